import { createHash } from 'node:crypto';
import { RialtoError } from '../errors.js';
import { epochSeconds } from '../internal/clock.js';
import type { Store } from '../store/store.js';
import type { UnverifiedIdToken } from './verify-id-token.js';

/**
 * Makes a verified ID token unusable for a second exchange, until it expires. Call it only once
 * every check has passed, so that no refused request burns a partner's token.
 *
 * The token is named by its issuer and `jti` (OIDC does not require `jti`; without one, by a
 * SHA-256 of the token itself, which decodeIdToken made canonical), hashed so the store key has a
 * fixed length whatever the IdP put in `jti`.
 * @param idToken a token that `IdTokenVerifier.verify` accepted, so `exp` is a number
 * @throws RialtoError `invalid_token` when the token was exchanged before
 */
export async function consumeIdToken(
  store: Store,
  idToken: UnverifiedIdToken,
  clockToleranceSeconds: number,
): Promise<void> {
  const { iss, jti, exp } = idToken.payload;
  const name =
    typeof jti === 'string' && jti.length > 0
      ? JSON.stringify(['id_token_jti', iss, jti])
      : JSON.stringify(['id_token', idToken.token]);
  const key = createHash('sha256').update(name).digest('hex');
  // The verifier accepts the token until exp plus the tolerance; it must stay consumed that long.
  const expiresAt = Math.ceil(exp as number) + clockToleranceSeconds;
  if (!(await store.consumeOnce(key, expiresAt, epochSeconds()))) {
    throw new RialtoError(
      'invalid_token',
      'The ID token was already exchanged; each ID token can be exchanged once. Get a new one from the identity provider.',
    );
  }
}
