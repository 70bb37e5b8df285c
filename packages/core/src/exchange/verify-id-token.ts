import {
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyResult,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { RialtoError } from '../errors.js';
import { RemoteDocumentError } from '../internal/bounded-fetch.js';
import { epochSeconds } from '../internal/clock.js';
import { hasControlCharacter } from '../internal/control-characters.js';
import type { Discovery, IssuerMetadata } from '../issuers/discovery.js';
import type { RemoteJwks } from '../issuers/remote-jwks.js';
import type { IssuerRegistrationRecord } from '../store/store.js';
import { checkIdTokenAudience } from './id-token-audience.js';

/** Algorithms an organization may allow: asymmetric only, so an IdP's public key can never act as an HMAC secret. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** The claims of an ID token that has not been verified yet: use only to decide whom to ask. */
export interface UnverifiedIdToken {
  token: string;
  payload: JWTPayload;
}

/** The claims an email may be read from, in order of preference. */
export type EmailClaim = 'email' | 'preferred_username' | 'upn';

/** What a verified ID token says about the user. */
export interface VerifiedIdentity {
  iss: string;
  /** The value of the registration's subject claim (`sub` unless it names another). */
  sub: string;
  /** As found in `emailClaim`; not yet normalized. */
  email: string;
  /**
   * Where `email` came from. Only `email` is an address the IdP may vouch for: `preferred_username`
   * and `upn` are user-editable on some IdPs (Azure AD), whatever `email_verified` says.
   */
  emailClaim: EmailClaim;
  /**
   * Whether the IdP vouches for `email`: `email_verified` as a boolean or the string "true"/"false"
   * some IdPs send; absent that, Azure AD's `xms_edov: true` (the tenant owns the email's domain)
   * counts as verified. `undefined` when the token says neither.
   */
  emailVerified: boolean | undefined;
}

export interface IdTokenVerifierOptions {
  discovery: Discovery;
  remoteJwks: RemoteJwks;
  clockToleranceSeconds: number;
  /** Tokens whose `exp` is further away than this are refused: ID tokens are meant to be short-lived. */
  maxLifetimeSeconds: number;
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Checks that a value is a compact JWS with a JSON-object header and payload, without trusting it.
 * @throws RialtoError `invalid_token`
 */
export function decodeIdToken(token: unknown, maxTokenBytes: number): UnverifiedIdToken {
  if (typeof token !== 'string' || token.length === 0) {
    throw new RialtoError('invalid_token', 'The request body must contain a "token" string.');
  }
  if (token.length > maxTokenBytes) {
    throw new RialtoError('invalid_token', `The token must not be longer than ${maxTokenBytes} bytes.`);
  }
  if (!JWS_COMPACT.test(token)) {
    throw new RialtoError('invalid_token', 'The token must be a JWT: three dot-separated base64url parts.');
  }
  if (!token.split('.').every(isCanonicalBase64url)) {
    // One signed token must have one spelling, or replay checks keyed on the string can be dodged.
    throw new RialtoError('invalid_token', 'The token must use canonical base64url encoding.');
  }
  try {
    decodeProtectedHeader(token);
    return { token, payload: decodeJwt(token) };
  } catch (error) {
    throw new RialtoError(
      'invalid_token',
      'The token must be a JWT with a JSON header and JSON object payload.',
      {
        cause: error,
      },
    );
  }
}

/** Verifies ID tokens against one issuer registration of an organization. */
export interface IdTokenVerifier {
  /**
   * Runs discovery, signature, time, token-type, audience and claim checks, in that order.
   * @throws RialtoError `discovery_failed`, `invalid_issuer`, `invalid_signature`, `token_expired`,
   *   `invalid_token` or `invalid_audience`
   */
  verify(idToken: UnverifiedIdToken, registration: IssuerRegistrationRecord): Promise<VerifiedIdentity>;
  /**
   * The first steps of `verify`, one at a time, for the token debugger; `verify` runs exactly
   * these, then `checkTokenType`, `checkIdTokenAudience` and `readIdentity`.
   */
  readonly steps: IdTokenVerificationSteps;
}

/** The steps of `IdTokenVerifier.verify` that need the verifier's caches or options. */
export interface IdTokenVerificationSteps {
  /**
   * The issuer's OpenID configuration, whose `issuer` must be the token's.
   * @throws RialtoError `discovery_failed` or `invalid_issuer`
   */
  discover(idToken: UnverifiedIdToken, registration: IssuerRegistrationRecord): Promise<IssuerMetadata>;
  /**
   * Signature (with one JWKS refetch for an unknown `kid`), then `exp` (with the clock tolerance),
   * `iat` and `nbf`: one jose call checks both, the signature first.
   * @throws RialtoError `discovery_failed`, `invalid_signature`, `token_expired` or `invalid_token`
   */
  verifySignatureAndTimes(
    idToken: UnverifiedIdToken,
    registration: IssuerRegistrationRecord,
    jwksUri: URL,
  ): Promise<JWTVerifyResult>;
  /**
   * What jose leaves to us: `iat` in the future, `exp` further away than an ID token lives.
   * @throws RialtoError `invalid_token`
   */
  checkLifetime(payload: JWTPayload, now: number): void;
}

export function createIdTokenVerifier(options: IdTokenVerifierOptions): IdTokenVerifier {
  const { discovery, remoteJwks, clockToleranceSeconds, maxLifetimeSeconds } = options;

  const steps: IdTokenVerificationSteps = {
    async discover(idToken, registration) {
      let metadata: IssuerMetadata;
      try {
        metadata = await discovery.getMetadata(registration.issuer);
      } catch (error) {
        throw discoveryFailed(error);
      }
      if (metadata.issuer !== idToken.payload.iss) {
        throw new RialtoError(
          'invalid_issuer',
          "The token issuer does not match the issuer's OpenID configuration.",
        );
      }
      return metadata;
    },

    async verifySignatureAndTimes(idToken, registration, jwksUri) {
      const verifyOptions = {
        algorithms: registration.allowedAlgorithms,
        clockTolerance: clockToleranceSeconds,
        // OIDC Core §2: an ID token without exp would never expire; without iat, its age is unknown.
        requiredClaims: ['exp', 'iat'],
      };
      let getKey = await remoteJwks.getKeySet(jwksUri).catch((error) => {
        throw discoveryFailed(error);
      });
      for (let attempt = 0; ; attempt++) {
        try {
          return await jwtVerify(idToken.token, getKey, verifyOptions);
        } catch (error) {
          if (attempt === 0 && error instanceof joseErrors.JWKSNoMatchingKey) {
            const refreshed = await remoteJwks.refreshAfterUnknownKid(jwksUri).catch((fetchError) => {
              throw discoveryFailed(fetchError);
            });
            if (refreshed) {
              getKey = refreshed;
              continue;
            }
          }
          throw verificationFailure(error);
        }
      }
    },

    checkLifetime(payload, now) {
      if (typeof payload.iat === 'number' && payload.iat > now + clockToleranceSeconds) {
        throw new RialtoError('invalid_token', 'The token was issued in the future.');
      }
      if (typeof payload.exp === 'number' && payload.exp > now + maxLifetimeSeconds) {
        throw new RialtoError('invalid_token', 'The token expires too far in the future to be an ID token.');
      }
    },
  };

  return {
    steps,
    async verify(idToken, registration) {
      // The token debugger (explain-exchange.ts) runs these same steps in this order, one by one:
      // a check added here goes there too, or its answers drift (exchange-explain.test.ts catches it).
      const metadata = await steps.discover(idToken, registration);
      const { payload, protectedHeader } = await steps.verifySignatureAndTimes(
        idToken,
        registration,
        metadata.jwksUri,
      );
      steps.checkLifetime(payload, epochSeconds());
      checkTokenType(protectedHeader.typ, payload);
      checkIdTokenAudience(payload, registration.clientIds);
      return readIdentity(payload, registration.subjectClaim);
    },
  };
}

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

const EMAIL_CLAIMS = ['email', 'preferred_username', 'upn'] as const;
const LOOKS_LIKE_EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * The subject and email of a verified payload.
 * @throws RialtoError `invalid_token` when either is missing or holds control characters
 */
export function readIdentity(payload: JWTPayload, subjectClaim: string): VerifiedIdentity {
  const subject = payload[subjectClaim];
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new RialtoError('invalid_token', `The token must contain a ${subjectClaim} claim.`);
  }
  for (const claim of new Set(['sub', subjectClaim, ...EMAIL_CLAIMS])) {
    const value = payload[claim];
    if (typeof value === 'string' && hasControlCharacter(value)) {
      throw new RialtoError(
        'invalid_token',
        `The token's ${claim} claim must not contain control characters.`,
      );
    }
  }
  const emailClaim = EMAIL_CLAIMS.find((claim) => {
    const value = payload[claim];
    return typeof value === 'string' && LOOKS_LIKE_EMAIL.test(value.trim());
  });
  if (emailClaim === undefined) {
    throw new RialtoError(
      'invalid_token',
      'The token must contain an email in email, preferred_username or upn.',
    );
  }
  return {
    iss: payload.iss as string,
    sub: subject,
    email: payload[emailClaim] as string,
    emailClaim,
    emailVerified: readEmailVerified(payload),
  };
}

function readEmailVerified(payload: JWTPayload): boolean | undefined {
  const claimed = payload.email_verified;
  // Some IdPs (older Cognito pools, custom claim mappers) send the boolean as a string; reading
  // "false" as absent would let the lenient policy link an address the IdP says is unverified.
  if (claimed === undefined) {
    // Azure AD omits email_verified; xms_edov: true says the tenant has verified the domain of the
    // email claim, which is what Microsoft recommends relying parties check against nOAuth.
    return payload.xms_edov === true ? true : undefined;
  }
  // Anything but an unambiguous true (null, 0, "no") is read as unverified, never as absent.
  return claimed === true || (typeof claimed === 'string' && claimed.toLowerCase() === 'true');
}

function discoveryFailed(error: unknown): RialtoError {
  if (error instanceof RialtoError) return error;
  return new RialtoError('discovery_failed', undefined, { cause: error });
}

function isCanonicalBase64url(segment: string): boolean {
  return Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

function verificationFailure(error: unknown): RialtoError {
  if (error instanceof RemoteDocumentError) return discoveryFailed(error);
  if (error instanceof joseErrors.JWTExpired)
    return new RialtoError('token_expired', undefined, { cause: error });
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') {
      return new RialtoError('invalid_token', `The token must contain an ${error.claim} claim.`, {
        cause: error,
      });
    }
    const problem = error.reason === 'check_failed' ? 'not satisfied' : 'malformed';
    return new RialtoError('invalid_token', `The token's "${error.claim}" claim is ${problem}.`, {
      cause: error,
    });
  }
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JOSENotSupported) {
    return new RialtoError(
      'invalid_token',
      'The token header uses JWS features this service does not accept.',
      {
        cause: error,
      },
    );
  }
  if (error instanceof joseErrors.JWTInvalid) {
    return new RialtoError('invalid_token', 'The token payload is not a valid JWT claims set.', {
      cause: error,
    });
  }
  // Every other failure (unknown kid, disallowed alg, bad signature, unusable header) is a token
  // this issuer's keys do not vouch for.
  return new RialtoError('invalid_signature', undefined, { cause: error });
}
