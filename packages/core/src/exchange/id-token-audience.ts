import { RialtoError } from '../errors.js';

/** The claims of a verified ID token that say whom it was issued to. */
export interface AudienceClaims {
  aud?: unknown;
  azp?: unknown;
}

/**
 * Checks that an ID token was issued to a client the relying party trusts, per OpenID Connect
 * Core 1.0 §3.1.3.7 as amended by errata set 2:
 * - `aud` is required and must contain a trusted client id;
 * - every other `aud` value must be trusted too: a token also addressed to an untrusted party may
 *   have been shown to it, and that party could replay it here;
 * - with several audiences, `azp` must be present and trusted; with one, `azp` is ignored (Google
 *   puts the Android client of a hybrid app there);
 * - `azp` never stands in for `aud`: access tokens of Azure AD v2 and Auth0 name the client only there.
 *
 * With no trusted client ids (an org registered by issuer alone) only the presence and shape of
 * `aud` are checked: any client of the issuer is accepted.
 *
 * Pure: takes the trusted ids as an argument, so one rule serves every issuer registration.
 * @throws RialtoError `invalid_audience`
 */
export function checkIdTokenAudience(claims: AudienceClaims, trustedClientIds: readonly string[]): void {
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    !audiences.every((aud): aud is string => typeof aud === 'string' && aud.length > 0)
  ) {
    throw new RialtoError('invalid_audience', 'The token must contain an aud claim naming its client.');
  }
  if (trustedClientIds.length === 0) return;
  if (!audiences.every((aud) => trustedClientIds.includes(aud))) {
    throw new RialtoError(
      'invalid_audience',
      audiences.some((aud) => trustedClientIds.includes(aud))
        ? 'The token is also addressed to an audience this organization does not trust.'
        : 'The token was not issued to a client registered for this organization.',
    );
  }
  if (audiences.length > 1 && !(typeof claims.azp === 'string' && trustedClientIds.includes(claims.azp))) {
    throw new RialtoError(
      'invalid_audience',
      'A token with several audiences must name a client of this organization in azp.',
    );
  }
}
