import { createHash } from 'node:crypto';
import { RialtoError } from '../../errors.js';
import { epochSeconds } from '../../internal/clock.js';
import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/**
 * With `singleUseIdTokens`, makes a verified ID token unusable for a second exchange until it
 * expires. The first step that writes: no refused request burns a partner's token.
 *
 * The token is named by its issuer and `jti` (OIDC does not require `jti`; without one, by a
 * SHA-256 of the token itself, which `token_shape` made canonical), hashed so the store key has a
 * fixed length whatever the IdP put in `jti`.
 */
export const singleUseStep = defineStep({
  name: 'single_use',
  errors: ['invalid_token', 'temporarily_unavailable'],
  isEnabled: (deps) => deps.singleUseIdTokens,
  async run(ctx) {
    const idToken = established(ctx.idToken);
    const { iss, jti, exp } = idToken.payload;
    const name =
      typeof jti === 'string' && jti.length > 0
        ? JSON.stringify(['id_token_jti', iss, jti])
        : JSON.stringify(['id_token', idToken.token]);
    const key = createHash('sha256').update(name).digest('hex');
    // `signature` accepted the token until exp plus the tolerance; it must stay consumed that long.
    const expiresAt = Math.ceil(exp as number) + ctx.deps.clockToleranceSeconds;
    if (!(await ctx.deps.store.consumeOnce(key, expiresAt, epochSeconds()))) {
      throw new RialtoError(
        'invalid_token',
        'The ID token was already exchanged; each ID token can be exchanged once. Get a new one from the identity provider.',
      );
    }
  },
  explain: {
    kind: 'skip',
    note: 'not checked: checking would use the token up; the exchange refuses a token that was exchanged before',
  },
});
