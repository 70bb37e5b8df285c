import type { RequestLike } from '../http/http-types.js';
import type { DpopProofVerifier } from './dpop-proof.js';
import { OAuthError } from './oauth-error.js';
import { challenge } from './www-authenticate.js';

/** How an access token is presented: RFC 6750 §2.1, or RFC 9449 §7.1 for a DPoP-bound one. */
export type AccessTokenScheme = 'Bearer' | 'DPoP';

export interface PresentedAccessToken {
  scheme: AccessTokenScheme;
  token: string;
}

/** The claims that bind a token to a key (RFC 9449 §6.1); absent on a bearer token. */
export interface SenderConstraintClaims {
  cnf?: { jkt?: string };
}

export interface ProtectedRequest {
  /** Upper-case method. */
  method: string;
  /** The resource's published URL, which a proof's `htu` must name; never built from the `Host` header. */
  url: string;
  headers: RequestLike['headers'];
}

export interface AuthenticatedRequest<C> {
  claims: C;
  token: string;
  scheme: AccessTokenScheme;
  /** The proof key's thumbprint when the token is DPoP-bound. */
  jkt: string | undefined;
}

export interface ProtectedRequestOptions<C> {
  /** Verifies the access token itself (signature, expiry, standing); what it throws is passed on untouched. */
  verifyAccessToken(token: string): Promise<C>;
  dpop: DpopProofVerifier;
}

const TOKEN_68 = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The access token of an `Authorization: Bearer` or `Authorization: DPoP` header. The scheme also
 * decides the challenge of a 401 about the token: a DPoP request gets `WWW-Authenticate: DPoP`.
 * @returns `undefined` when the request presents no access token in a form this service reads
 */
export function readPresentedAccessToken(headers: RequestLike['headers']): PresentedAccessToken | undefined {
  const authorization = Array.isArray(headers.authorization)
    ? headers.authorization[0]
    : headers.authorization;
  const match = authorization === undefined ? null : TOKEN_68.exec(authorization);
  if (!match) return undefined;
  const scheme: AccessTokenScheme = match[1]?.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  return { scheme, token: match[2] as string };
}

/**
 * Authenticates a request to a protected resource. A bearer token is accepted as `Bearer` only; a
 * DPoP-bound token (`cnf.jkt`) only as `Authorization: DPoP` with a valid proof of the same key whose
 * `ath` hashes the token (RFC 9449 §7), so a stolen bound token is useless without its key, and a
 * bound token sent as `Bearer` is refused rather than downgraded (§7.2). The token is verified before
 * the proof's `jti` is spent, as oidc-provider does.
 * @returns `undefined` when no access token is presented (answer as the route does: 401 without an error code)
 * @throws OAuthError `invalid_request` (400) for a DPoP proof sent with the Bearer scheme;
 * `invalid_token` (401) for a bound token sent as Bearer, an unbound one sent as DPoP, or a proof of
 * another key; `invalid_dpop_proof` (401) for a missing or invalid proof; each with its
 * `WWW-Authenticate` challenge. Whatever `verifyAccessToken` throws passes through.
 * @example
 * const authenticated = await authenticateProtectedRequest(
 *   { method: 'GET', url: 'https://api.example.com/portfolio', headers: request.headers },
 *   { verifyAccessToken: (token) => exchange.verifyAccessToken(token), dpop },
 * );
 */
export async function authenticateProtectedRequest<C extends SenderConstraintClaims>(
  request: ProtectedRequest,
  options: ProtectedRequestOptions<C>,
): Promise<AuthenticatedRequest<C> | undefined> {
  const presented = readPresentedAccessToken(request.headers);
  if (presented === undefined) return undefined;
  const { algorithms } = options.dpop;
  const proof = request.headers.dpop;

  if (presented.scheme === 'Bearer' && proof !== undefined) {
    throw new OAuthError(
      'invalid_request',
      'A DPoP proof was sent with the Bearer scheme; use Authorization: DPoP.',
      {
        headers: {
          'www-authenticate': challenge('Bearer', {
            error: 'invalid_request',
            error_description: 'A DPoP proof was sent with the Bearer scheme; use Authorization: DPoP.',
          }),
        },
      },
    );
  }
  const claims = await options.verifyAccessToken(presented.token);
  const boundTo = claims.cnf?.jkt;

  if (presented.scheme === 'Bearer') {
    if (boundTo !== undefined) {
      throw invalidToken(
        'The access token is bound to a DPoP key; send it as Authorization: DPoP with a proof.',
        algorithms,
      );
    }
    return { claims, token: presented.token, scheme: 'Bearer', jkt: undefined };
  }
  if (boundTo === undefined) {
    throw invalidToken(
      'The access token is not bound to a DPoP key; send it as Authorization: Bearer.',
      algorithms,
    );
  }
  let jkt: string;
  try {
    ({ jkt } = await options.dpop.verify(proof, {
      method: request.method,
      url: request.url,
      accessToken: presented.token,
    }));
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    // §7.1: at a resource server a bad proof is a 401 with a DPoP challenge, not the token endpoint's 400.
    throw new OAuthError('invalid_dpop_proof', error.description, {
      status: 401,
      headers: { 'www-authenticate': dpopChallenge(algorithms, 'invalid_dpop_proof', error.description) },
      cause: error,
    });
  }
  if (jkt !== boundTo) {
    throw invalidToken("The access token is bound to another key than the DPoP proof's.", algorithms);
  }
  return { claims, token: presented.token, scheme: 'DPoP', jkt };
}

/**
 * The DPoP challenge of a resource server (RFC 9449 §7.1), listing the proof algorithms it accepts;
 * without an error code for a request that presented no token.
 */
export function dpopChallenge(algorithms: readonly string[], error?: string, description?: string): string {
  return challenge('DPoP', { error, error_description: description, algs: algorithms.join(' ') });
}

function invalidToken(description: string, algorithms: readonly string[]): OAuthError {
  return new OAuthError('invalid_token', description, {
    headers: { 'www-authenticate': dpopChallenge(algorithms, 'invalid_token', description) },
  });
}
