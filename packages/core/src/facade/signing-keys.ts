import type { RotatedKey, SigningKeyStatus } from '../keys/signing-keys.js';
import type { Services } from '../services.js';
import type { SigningKeyUse } from '../store/store.js';

/** The service's own signing keys, from host code and the CLI. */
export interface RialtoKeys {
  /**
   * Adds a new signing key (or refresh secret) to the store. It is published in the JWKS at once and
   * signs after `signingKeyPrepublishSeconds`; the key it replaces verifies until its tokens expire.
   * Other instances pick the new key up within a minute.
   * @param use which key to rotate @default 'access_token'
   * @throws TypeError when the host supplies that kind of key through options
   */
  rotate(use?: SigningKeyUse): Promise<RotatedKey>;
  /**
   * The access-token keys, then the refresh-token secrets, each newest first: which is next, active,
   * retired or expired, with the dates of each step, as `GET /identity/keys` answers. Never any
   * private material.
   */
  list(): Promise<SigningKeyStatus[]>;
}

export function createKeysFacade({ signingKeys, events, options }: Services): RialtoKeys {
  return {
    list: signingKeys.list,
    async rotate(use = 'access_token') {
      const rotated = await signingKeys.rotate(use);
      events.emit('signing_key.rotated', { use, kid: rotated.kid });
      options.logger.info({ event: 'signing_key.rotated', use, kid: rotated.kid }, 'signing key rotated');
      return rotated;
    },
  };
}
