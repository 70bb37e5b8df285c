import type { JWTPayload } from 'jose';
import { RialtoError } from '../../errors.js';
import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/**
 * RFC 8725 §3.11: an IdP signs other JWTs with the same keys (access tokens `at+jwt`, logout
 * tokens `logout+jwt`); none of them may pass as an ID token. ID tokens carry no `typ` or `JWT`.
 * @throws RialtoError `invalid_token` when the token is another kind of JWT than an ID token
 */
export function checkTokenType(typ: unknown, payload: JWTPayload): void {
  if (typ !== undefined && (typeof typ !== 'string' || !/^(?:application\/)?jwt$/i.test(typ))) {
    throw new RialtoError('invalid_token', 'The token header "typ" must be JWT for an ID token.');
  }
  // A back-channel logout token (OIDC Back-Channel Logout §2.4) is signed like an ID token and may
  // carry no typ; its events claim gives it away.
  if (payload.events !== undefined) {
    throw new RialtoError('invalid_token', 'The token is a logout token, not an ID token.');
  }
  if (payload.token_use === 'access') {
    // Cognito access tokens have no aud (their client is in client_id), so this runs before the
    // audience check, where the hint would be lost.
    throw new RialtoError(
      'invalid_token',
      'This is a Cognito access token (token_use "access"); send the ID token instead.',
    );
  }
}

/** An ID token, not another JWT its IdP signs with the same keys. */
export const tokenTypeStep = defineStep({
  name: 'token_type',
  errors: ['invalid_token'],
  run(ctx) {
    const { header, payload } = established(ctx.idToken);
    checkTokenType(header.typ, payload);
  },
  explain: {
    kind: 'check',
    seen: ({ idToken }) => ({
      typ: idToken?.header.typ,
      token_use: idToken?.payload.token_use,
      is_logout_token: idToken?.payload.events !== undefined,
    }),
    fixes: {
      invalid_token:
        'This is not an ID token (an access token, a logout token or another JWT type): send the ID token; with Cognito, the one whose token_use is "id".',
    },
  },
});
