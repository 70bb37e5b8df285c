import { RialtoError } from '../../errors.js';
import { epochSeconds } from '../../internal/clock.js';
import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/**
 * `exp`, `iat` and `nbf` against the clock, with the tolerance: what jose found while checking the
 * signature, then what it leaves to us (`iat` in the future, `exp` further away than an ID token lives).
 */
export const timesStep = defineStep({
  name: 'times',
  errors: ['token_expired', 'invalid_token'],
  run(ctx) {
    const now = epochSeconds();
    ctx.now = now;
    if (ctx.timeFailure !== undefined) throw ctx.timeFailure;
    const { payload } = established(ctx.idToken);
    const { clockToleranceSeconds, maxIdTokenLifetimeSeconds } = ctx.deps;
    if (typeof payload.iat === 'number' && payload.iat > now + clockToleranceSeconds) {
      throw new RialtoError('invalid_token', 'The token was issued in the future.');
    }
    if (typeof payload.exp === 'number' && payload.exp > now + maxIdTokenLifetimeSeconds) {
      throw new RialtoError('invalid_token', 'The token expires too far in the future to be an ID token.');
    }
  },
  explain: {
    kind: 'check',
    seen: ({ idToken, now, deps }) => {
      const exp = idToken?.payload.exp;
      return {
        now,
        exp,
        iat: idToken?.payload.iat,
        nbf: idToken?.payload.nbf,
        seconds_until_exp: typeof exp === 'number' && now !== undefined ? exp - now : undefined,
        clock_tolerance_seconds: deps.clockToleranceSeconds,
        max_lifetime_seconds: deps.maxIdTokenLifetimeSeconds,
      };
    },
    fixes: {
      token_expired:
        "The token has expired (compare exp with now and the clock tolerance): get a fresh ID token from the identity provider just before exchanging it, and check that this host's clock is right.",
      invalid_token:
        "exp and iat are required; iat and nbf must not lie in the future beyond the clock tolerance; exp must fall within the longest lifetime an ID token may have. Check the provider's token lifetime settings and that both clocks are synchronized (NTP).",
    },
  },
});
