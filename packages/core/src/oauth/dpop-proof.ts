import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, EmbeddedJWK, type JWK } from 'jose';
import { ASYMMETRIC_ALGORITHMS } from '../exchange/id-token.js';
import { epochSeconds } from '../internal/clock.js';
import type { Store } from '../store/store.js';
import { OAuthError } from './oauth-error.js';

/** RFC 9449 §4.3 point 11: how far a proof's `iat` may be from now, before the clock tolerance. */
export const DPOP_PROOF_MAX_AGE_SECONDS = 60;
// A proof with an RSA-4096 key is about 2.5 KB; past this, refuse before spending any crypto on it.
const MAX_DPOP_PROOF_BYTES = 8 * 1024;
const DPOP_TYPE = 'dpop+jwt';
// The signature may be empty so that an unsigned (alg none) proof is refused for its alg, by name.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
// RFC 7517 §9.2 and RFC 7518 §6: the members only a private (or symmetric) key has.
const PRIVATE_KEY_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export interface DpopProofVerifierOptions {
  /**
   * The JWS algorithms a proof may use: asymmetric only (RFC 9449 §4.3 point 5). The metadata's
   * `dpop_signing_alg_values_supported` lists the same.
   * @default RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519
   */
  algorithms?: readonly string[];
  /** Allowed clock difference with the client, added to the 60 s window of `iat`: the exchange's `clockToleranceSeconds`. */
  clockToleranceSeconds: number;
  /**
   * The store's single-use record: each proof's `jti` is recorded until the proof could no longer
   * pass the `iat` check, so a replay is refused by every instance sharing the store.
   */
  consumeOnce: Store['consumeOnce'];
}

/** What the proof must match: the request it came with. */
export interface DpopProofRequest {
  /** The request's method, upper-case. */
  method: string;
  /**
   * The published URL of the endpoint, built from the configured issuer (`oauthEndpointUrl`), never
   * from the request's `Host` header. Its query and fragment are ignored, as the proof's are.
   */
  url: string;
  /** At a resource server: the access token sent with the proof, which `ath` must hash (§4.3 point 12). */
  accessToken?: string;
}

/** A proof that passed every check; its `jti` is now used up. */
export interface VerifiedDpopProof {
  /** The RFC 7638 thumbprint of the proof's key: `cnf.jkt` of a token bound to it. */
  jkt: string;
  jti: string;
  iat: number;
}

export interface DpopProofVerifier {
  /** The algorithms proofs may use, for the metadata and the `algs` of DPoP challenges. */
  readonly algorithms: readonly string[];
  /**
   * Checks a DPoP proof per RFC 9449 §4.3 and records its `jti` as used. Server-provided nonces
   * (§8) are not implemented: a proof carrying a `nonce` is refused, since this service never
   * issues one; replay is bounded by the single-use `jti` and the `iat` window instead.
   * @param proof the `DPoP` header value(s) of the request
   * @throws OAuthError `invalid_dpop_proof` (status 400; resource servers answer it with 401);
   * whatever `consumeOnce` throws when the store is down
   */
  verify(proof: string | string[] | undefined, request: DpopProofRequest): Promise<VerifiedDpopProof>;
}

/**
 * @throws TypeError when `algorithms` is empty or names a symmetric, `none` or unknown algorithm
 * @example
 * const dpop = createDpopProofVerifier({ consumeOnce: (key, expiresAt, now) => store.consumeOnce(key, expiresAt, now) });
 * const { jkt } = await dpop.verify(request.headers.dpop, { method: 'POST', url: oauthEndpointUrl(issuer, 'token') });
 */
export function createDpopProofVerifier(options: DpopProofVerifierOptions): DpopProofVerifier {
  const algorithms = resolveAlgorithms(options.algorithms);
  const windowSeconds = DPOP_PROOF_MAX_AGE_SECONDS + options.clockToleranceSeconds;
  const { consumeOnce } = options;

  return {
    algorithms,
    async verify(proof, request) {
      const compact = singleProof(proof);
      const { jwk } = checkHeader(compact, algorithms);
      const payload = await verifiedPayload(compact, algorithms);
      const now = epochSeconds();
      checkClaims(payload, request, now, windowSeconds);
      const jkt = await calculateJwkThumbprint(jwk);
      const { jti, iat } = payload as { jti: string; iat: number };
      // The proof passes the iat check until iat + window, so it must stay recorded past that.
      const expiresAt = Math.floor(iat) + windowSeconds + 1;
      if (!(await consumeOnce(replayKey(jkt, jti), expiresAt, now))) {
        throw invalid('The DPoP proof was already used; make a new proof for each request.');
      }
      return { jkt, jti, iat };
    },
  };
}

function resolveAlgorithms(input: readonly string[] | undefined): readonly string[] {
  if (input === undefined) return [...ASYMMETRIC_ALGORITHMS];
  const allowed: readonly string[] = ASYMMETRIC_ALGORITHMS;
  const refused = input.filter((algorithm) => !allowed.includes(algorithm));
  if (input.length === 0 || refused.length > 0) {
    throw new TypeError(
      `createDpopProofVerifier: \`algorithms\` must be a non-empty list of ${allowed.join(', ')} (asymmetric only, RFC 9449 §4.3)`,
    );
  }
  return [...input];
}

function singleProof(proof: string | string[] | undefined): string {
  // §4.3 point 1: not more than one DPoP header. Node joins repeated ones with ", ", which no JWS contains.
  if (Array.isArray(proof) && proof.length > 1) throw invalid('Send exactly one DPoP header.');
  const value = Array.isArray(proof) ? proof[0] : proof;
  if (value === undefined || value === '') throw invalid('A DPoP proof is required in the DPoP header.');
  if (value.length > MAX_DPOP_PROOF_BYTES) throw invalid('The DPoP proof is too large.');
  if (!COMPACT_JWS.test(value)) throw invalid('The DPoP header must hold one JWT in compact form.');
  return value;
}

function checkHeader(proof: string, algorithms: readonly string[]): { jwk: JWK } {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (cause) {
    throw invalid('The DPoP header must hold one JWT in compact form.', cause);
  }
  if (header.typ !== DPOP_TYPE) throw invalid(`The DPoP proof must have typ "${DPOP_TYPE}".`);
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw invalid(`The DPoP proof must be signed with one of ${algorithms.join(', ')}.`);
  }
  const { jwk } = header;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw invalid('The DPoP proof must carry its public key in the jwk header.');
  }
  if (PRIVATE_KEY_MEMBERS.some((member) => member in jwk)) {
    throw invalid("The DPoP proof's jwk must be a public key, without its private part.");
  }
  return { jwk };
}

async function verifiedPayload(
  proof: string,
  algorithms: readonly string[],
): Promise<Record<string, unknown>> {
  let payload: unknown;
  try {
    // compactVerify, not jwtVerify: every claim check is this module's, with its own answer.
    const verified = await compactVerify(proof, EmbeddedJWK, { algorithms: [...algorithms] });
    payload = JSON.parse(new TextDecoder().decode(verified.payload));
  } catch (cause) {
    throw invalid("The DPoP proof's signature does not verify with its jwk.", cause);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid("The DPoP proof's payload must be a JSON object.");
  }
  return payload as Record<string, unknown>;
}

function checkClaims(
  payload: Record<string, unknown>,
  request: DpopProofRequest,
  now: number,
  windowSeconds: number,
): void {
  const { jti, htm, htu, iat, ath, nonce } = payload;
  if (typeof jti !== 'string' || jti === '' || typeof htm !== 'string' || typeof htu !== 'string') {
    throw invalid('The DPoP proof must have the claims jti, htm, htu and iat.');
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    throw invalid('The DPoP proof must have the claims jti, htm, htu and iat.');
  }
  if (htm !== request.method) throw invalid("The DPoP proof's htm is not the method of this request.");
  const expectedUrl = withoutQueryAndFragment(request.url);
  if (expectedUrl === undefined || withoutQueryAndFragment(htu) !== expectedUrl) {
    throw invalid("The DPoP proof's htu is not the URL of this endpoint.");
  }
  if (Math.abs(now - iat) > windowSeconds) {
    throw invalid(
      `The DPoP proof's iat is more than ${DPOP_PROOF_MAX_AGE_SECONDS} seconds from now; make a new proof for each request.`,
    );
  }
  if (nonce !== undefined) {
    throw invalid('This service issues no DPoP nonces; send the proof without a nonce claim.');
  }
  if (request.accessToken !== undefined && ath !== accessTokenHash(request.accessToken)) {
    throw invalid("The DPoP proof's ath is not the hash of the access token sent with it.");
  }
}

/** §4.3 point 9: compare the URIs without query and fragment, after syntax-based normalization. */
function withoutQueryAndFragment(uri: string): string | undefined {
  if (!URL.canParse(uri)) return undefined;
  const url = new URL(uri);
  url.search = '';
  url.hash = '';
  return url.href;
}

/** RFC 9449 §4.2: `ath` is the base64url SHA-256 of the access token (ASCII, so UTF-8 alike). */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

// Named by key and jti (a jti is the client's choice, unique per key), hashed to the store's fixed
// key length, and apart from the ID tokens' single-use keys.
function replayKey(jkt: string, jti: string): string {
  return createHash('sha256')
    .update(JSON.stringify(['dpop_jti', jkt, jti]))
    .digest('hex');
}

function invalid(description: string, cause?: unknown): OAuthError {
  return new OAuthError('invalid_dpop_proof', description, cause === undefined ? {} : { cause });
}
