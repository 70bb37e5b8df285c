import { errors as joseErrors, jwtVerify } from 'jose';
import { RialtoError } from '../errors.js';
import { ASYMMETRIC_ALGORITHMS } from '../exchange/id-token.js';
import { kidOf } from '../internal/kid-of.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import type { DpopProofVerifier } from '../oauth/dpop-proof.js';
import { OAuthError } from '../oauth/oauth-error.js';
import {
  type AuthenticatedRequest,
  authenticateProtectedRequest,
  dpopChallenge,
  type ProtectedRequest,
  readPresentedAccessToken,
} from '../oauth/protected-request.js';
import { ACCESS_TOKEN_TYPE, type RialtoAccessTokenClaims } from './mint-tokens.js';

export interface AccessTokenVerifierOptions {
  issuer: string;
  signingKeys: SigningKeys;
  clockToleranceSeconds: number;
  /**
   * Runs after the signature and claims check: throws when the token's user or organization may no
   * longer act (deleted, suspended). Its lookups are cached, so it costs the store at most one read
   * per user and org per cache period; when the store is down it rejects (503), never lets through.
   */
  checkStanding(claims: RialtoAccessTokenClaims): Promise<void>;
  /** Checks the proofs that come with DPoP-bound tokens (RFC 9449 §7), spending each `jti` once in the store. */
  dpop: DpopProofVerifier;
}

export interface VerifyAccessTokenOptions {
  /** When set, the token's `aud` must include this audience. */
  audience?: string;
  /** Claims that must be present with exactly these values, e.g. `{ kyc_completed: true }`. */
  claims?: Partial<Record<keyof RialtoAccessTokenClaims, string | number | boolean>>;
}

export interface AccessTokenVerifier {
  /**
   * Verifies one of this service's access tokens, and that its user still exists and its
   * organization is not suspended (both cached for `lookupCacheTtlSeconds`).
   * @throws RialtoError `invalid_access_token` (bad, expired, foreign, user or org deleted),
   * `organization_suspended`, `insufficient_claims`, or `temporarily_unavailable` when the store is down
   */
  verify(token: string, options?: VerifyAccessTokenOptions): Promise<RialtoAccessTokenClaims>;
  /**
   * Verifies the access token of a request to a protected resource: `Authorization: Bearer` for an
   * unbound token, `Authorization: DPoP` with a `DPoP` proof of the bound key for a token with
   * `cnf.jkt` (RFC 9449 §7), whose `htm` and `htu` name this request and `ath` this token.
   * @param request its method, its published URL (never built from the `Host` header) and headers
   * @throws RialtoError `unauthorized` (no access token), `invalid_access_token` (also: a bound token
   * sent as Bearer, an unbound one as DPoP, a proof of another key, a proof sent with Bearer),
   * `invalid_dpop_proof` (missing, invalid or replayed proof), `insufficient_claims`; each 401 with
   * the challenge of the scheme the token needs
   */
  authenticate(
    request: ProtectedRequest,
    options?: VerifyAccessTokenOptions,
  ): Promise<{ claims: RialtoAccessTokenClaims; token: string }>;
}

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const { issuer, signingKeys, clockToleranceSeconds, checkStanding, dpop } = options;
  const algorithms = [...ASYMMETRIC_ALGORITHMS];

  async function verify(
    token: string,
    verifyOptions: VerifyAccessTokenOptions = {},
  ): Promise<RialtoAccessTokenClaims> {
    // Loading keys may fail with the store's error (503); only the verification itself is a 401.
    const keys = await signingKeys.loadKnowing('access_token', kidOf(token));
    let claims: RialtoAccessTokenClaims;
    try {
      const verified = await jwtVerify(token, keys.verifyAccessTokenKey, {
        issuer,
        typ: ACCESS_TOKEN_TYPE,
        algorithms,
        clockTolerance: clockToleranceSeconds,
        requiredClaims: ['sub', 'exp', 'org_id', 'user_id'],
        ...(verifyOptions.audience === undefined ? {} : { audience: verifyOptions.audience }),
      });
      claims = verified.payload as unknown as RialtoAccessTokenClaims;
    } catch (error) {
      throw new RialtoError('invalid_access_token', describeFailure(error), { cause: error });
    }
    await checkStanding(claims);
    for (const [name, expected] of Object.entries(verifyOptions.claims ?? {})) {
      if (claims[name as keyof RialtoAccessTokenClaims] !== expected) {
        throw new RialtoError(
          'insufficient_claims',
          `The access token's ${name} claim must be ${JSON.stringify(expected)}.`,
        );
      }
    }
    return claims;
  }

  return {
    verify,
    async authenticate(request, verifyOptions) {
      let authenticated: AuthenticatedRequest<RialtoAccessTokenClaims> | undefined;
      try {
        authenticated = await authenticateProtectedRequest(request, {
          verifyAccessToken: (token) => verify(token, verifyOptions),
          dpop,
        });
      } catch (error) {
        throw asRialtoError(error, readPresentedAccessToken(request.headers)?.scheme, dpop.algorithms);
      }
      if (authenticated === undefined) {
        throw new RialtoError('unauthorized', 'A Bearer access token is required.');
      }
      return { claims: authenticated.claims, token: authenticated.token };
    },
  };
}

/**
 * The exchange's own codes for what the OAuth building block throws, keeping its challenge; and a
 * DPoP challenge for any 401 about a token sent with the DPoP scheme, which has no Bearer to name.
 */
function asRialtoError(error: unknown, scheme: string | undefined, algorithms: readonly string[]): unknown {
  if (error instanceof OAuthError) {
    const code = error.code === 'invalid_dpop_proof' ? 'invalid_dpop_proof' : 'invalid_access_token';
    // An unusable combination of scheme and proof is one more way of presenting the token wrongly:
    // the routes' 401 for it, rather than a 400 every access-token route would have to document.
    return new RialtoError(code, error.description, { headers: error.headers, cause: error });
  }
  if (error instanceof RialtoError && error.status === 401 && scheme === 'DPoP') {
    return new RialtoError(error.code, error.description, {
      headers: {
        ...error.headers,
        'www-authenticate': dpopChallenge(algorithms, 'invalid_token', error.description),
      },
      cause: error,
    });
  }
  return error;
}

function describeFailure(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token has expired.';
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
    return 'The access token was not issued for this audience.';
  }
  return 'The access token is malformed or was not issued by this service.';
}
