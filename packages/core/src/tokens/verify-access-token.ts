import { errors as joseErrors, jwtVerify } from 'jose';
import { RialtoError } from '../errors.js';
import { ASYMMETRIC_ALGORITHMS } from '../exchange/id-token.js';
import type { RequestLike } from '../http/http-types.js';
import { bearerToken } from '../http/messages.js';
import { kidOf } from '../internal/kid-of.js';
import type { SigningKeys } from '../keys/signing-keys.js';
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
   * Verifies the `Authorization: Bearer` access token of a request.
   * @throws RialtoError `unauthorized` (no bearer token), `invalid_access_token` or `insufficient_claims`
   */
  authenticate(
    headers: RequestLike['headers'],
    options?: VerifyAccessTokenOptions,
  ): Promise<{ claims: RialtoAccessTokenClaims; token: string }>;
}

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const { issuer, signingKeys, clockToleranceSeconds, checkStanding } = options;
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
    async authenticate(headers, verifyOptions) {
      const token = bearerToken(headers);
      if (token === undefined) throw new RialtoError('unauthorized', 'A Bearer access token is required.');
      return { claims: await verify(token, verifyOptions), token };
    },
  };
}

function describeFailure(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token has expired.';
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
    return 'The access token was not issued for this audience.';
  }
  return 'The access token is malformed or was not issued by this service.';
}
