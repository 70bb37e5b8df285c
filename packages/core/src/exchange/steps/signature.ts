import { type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from 'jose';
import { RialtoError } from '../../errors.js';
import { type ExchangeContext, established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';
import { discoveryFailed, IDP_UNREACHABLE_FIX } from './discovery.js';
import { headerSeen } from './token-shape.js';

/**
 * The token's signature, by a key of the issuer's key set and an algorithm the registration
 * allows. A `kid` the cached set lacks has the set refetched once (the IdP may have rotated keys);
 * while the IdP cannot be asked, that is `discovery_failed`, never a forgery.
 *
 * jose checks the time claims in the same call, after the signature: a time failure means the
 * signature held, so it is left in the context for `times` to answer.
 */
export const signatureStep = defineStep({
  name: 'signature',
  errors: ['invalid_signature', 'invalid_token', 'discovery_failed'],
  async run(ctx) {
    const { token } = established(ctx.idToken);
    const options = {
      algorithms: established(ctx.registration).allowedAlgorithms,
      clockTolerance: ctx.deps.clockToleranceSeconds,
      // OIDC Core §2: an ID token without exp would never expire; without iat, its age is unknown.
      requiredClaims: ['exp', 'iat'],
    };
    try {
      try {
        await jwtVerify(token, established(ctx.keySet), options);
      } catch (error) {
        if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
        const refetched = await keysAfterUnknownKid(ctx);
        if (refetched === null) throw error;
        await jwtVerify(token, refetched, options);
      }
    } catch (error) {
      const failure = verificationFailure(error);
      if (!isTimeFailure(failure)) throw failure;
      ctx.timeFailure = failure;
    }
  },
  explain: {
    kind: 'check',
    seen: ({ idToken, registration }) => ({
      ...headerSeen(idToken),
      allowed_algorithms: registration?.allowedAlgorithms,
    }),
    fixes: {
      invalid_signature:
        'Send the token exactly as the identity provider issued it, unmodified and freshly obtained. Its kid must be in the JWKS the provider publishes (keys may have rotated) and its alg must be one the issuer registration allows.',
      discovery_failed: `The token's kid is not in the issuer's key set as this service last fetched it, and the identity provider cannot be asked for its current keys now (its last answer failed): if it rotated its keys, the token may well be genuine, so retry once the provider answers. ${IDP_UNREACHABLE_FIX}`,
      invalid_token:
        'The token header asks for JWS features this service refuses (crit, embedded keys, unencoded payload): send an ordinary signed ID token.',
    },
  },
});

/**
 * The issuer's key set refetched for a `kid` it lacked, or `null` when it was fetched within the
 * unknown-kid cooldown and nothing the service fetched from the issuer since has failed: then the
 * IdP does not know the kid.
 * @throws RialtoError `discovery_failed` while the IdP cannot be asked
 */
async function keysAfterUnknownKid(ctx: ExchangeContext): Promise<JWTVerifyGetKey | null> {
  const { discovery, remoteJwks } = ctx.deps;
  const { issuer } = established(ctx.registration);
  try {
    return await remoteJwks.refreshAfterUnknownKid(
      established(ctx.metadata).jwksUri,
      discovery.lastFailureAtMs(issuer),
    );
  } catch (error) {
    throw discoveryFailed(error);
  }
}

function isTimeFailure(error: RialtoError): boolean {
  return error.code === 'token_expired' || error.cause instanceof joseErrors.JWTClaimValidationFailed;
}

function verificationFailure(error: unknown): RialtoError {
  if (error instanceof RialtoError) return error;
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
