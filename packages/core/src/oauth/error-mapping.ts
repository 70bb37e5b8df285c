import { type RialtoError, type RialtoErrorCode, toRialtoError } from '../errors.js';
import type { ResponseLike } from '../http/http-types.js';
import { json } from '../http/messages.js';
import type { ClientAuthMethod } from './client-authentication.js';
import { OAuthError, type OAuthErrorCode, oauthErrorBody, oauthStatusOf } from './oauth-error.js';
import { basicChallenge } from './www-authenticate.js';

/** The OAuth endpoints, each with the errors it may answer. */
export type OAuthEndpoint = 'token' | 'revocation' | 'introspection';

/**
 * What each endpoint may answer. Anything else reaching an endpoint is a server bug and becomes
 * `server_error`, so an endpoint never answers an error its documentation does not list.
 */
export const ENDPOINT_ERRORS = {
  // RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 9449 §5.
  token: [
    'invalid_request',
    'invalid_client',
    'invalid_grant',
    'unauthorized_client',
    'unsupported_grant_type',
    'invalid_scope',
    'invalid_target',
    'invalid_dpop_proof',
    'temporarily_unavailable',
    'server_error',
  ],
  // RFC 7009 §2.2.1: an invalid or unknown token is not an error there, so neither is invalid_grant.
  revocation: [
    'invalid_request',
    'invalid_client',
    'unauthorized_client',
    'unsupported_token_type',
    'temporarily_unavailable',
    'server_error',
  ],
  // RFC 7662 §2.3: an inactive token answers { active: false }, never an error.
  introspection: [
    'invalid_request',
    'invalid_client',
    'unauthorized_client',
    'temporarily_unavailable',
    'server_error',
  ],
} as const satisfies Record<OAuthEndpoint, readonly OAuthErrorCode[]>;

interface OAuthMapping {
  error: OAuthErrorCode;
  /** When it differs from the OAuth code's usual status. */
  status?: number;
}

const INVALID_GRANT = { error: 'invalid_grant' } as const;
// Codes of routes other than the OAuth endpoints: reaching one here is a bug, answered as such.
const NOT_AN_OAUTH_FAILURE = { error: 'server_error' } as const;

/**
 * Every exchange error code as an OAuth endpoint answers it (RFC 6749 §5.2). A subject token or
 * assertion the exchange refuses is `invalid_grant`, as RFC 7523 §3.1 says for jwt-bearer; token
 * exchange answers the same refusal the same way, a stated deviation from RFC 8693 §2.2.2 (which
 * names `invalid_request`), so that a client's handling does not depend on the grant it used, and
 * `invalid_request` keeps meaning a malformed request. An IdP that cannot be reached is
 * the service's trouble, not the client's grant, so it is `503 temporarily_unavailable`: the same
 * request may succeed later, which `invalid_grant` would deny. Typed over every code, so a new
 * exchange code does not compile until it has its row here.
 */
export const EXCHANGE_ERROR_MAPPING = {
  missing_api_key: { error: 'invalid_client' },
  invalid_api_key: { error: 'invalid_client' },
  invalid_token: INVALID_GRANT,
  invalid_signature: INVALID_GRANT,
  token_expired: INVALID_GRANT,
  invalid_issuer: INVALID_GRANT,
  invalid_audience: INVALID_GRANT,
  discovery_failed: { error: 'temporarily_unavailable' },
  issuer_not_registered: INVALID_GRANT,
  org_mismatch: INVALID_GRANT,
  account_conflict: INVALID_GRANT,
  invalid_transition: NOT_AN_OAUTH_FAILURE,
  invalid_request: { error: 'invalid_request' },
  invalid_grant: INVALID_GRANT,
  unauthorized: { error: 'invalid_client' },
  invalid_access_token: INVALID_GRANT,
  invalid_dpop_proof: { error: 'invalid_dpop_proof' },
  insufficient_claims: NOT_AN_OAUTH_FAILURE,
  insufficient_role: NOT_AN_OAUTH_FAILURE,
  // The client authenticated, but its organization may not be granted anything now.
  organization_suspended: { error: 'unauthorized_client' },
  user_not_provisioned: INVALID_GRANT,
  // The issuer's policy refused the subject token's identity: the grant, not the client, is refused.
  access_denied: INVALID_GRANT,
  not_found: NOT_AN_OAUTH_FAILURE,
  method_not_allowed: { error: 'invalid_request', status: 405 },
  conflict: NOT_AN_OAUTH_FAILURE,
  // The rest of the body was never read; 413 (with the exchange's `Connection: close`) says so.
  request_too_large: { error: 'invalid_request', status: 413 },
  // RFC 6749 §5.2 answers a malformed request with 400 whatever made it so.
  unsupported_media_type: { error: 'invalid_request' },
  rate_limited: { error: 'temporarily_unavailable', status: 429 },
  server_error: { error: 'server_error' },
  temporarily_unavailable: { error: 'temporarily_unavailable' },
} as const satisfies Record<RialtoErrorCode, OAuthMapping>;

// A store outage is usually over within a second or two; the exchange's own 503 says 1 too.
const DEFAULT_RETRY_AFTER_SECONDS = 1;

export interface OAuthErrorContext {
  endpoint: OAuthEndpoint;
  /**
   * How the client authenticated or tried to. A failed `client_secret_basic` attempt gets
   * `WWW-Authenticate: Basic` (RFC 6749 §5.2); other methods get no challenge, as in oidc-provider,
   * so standard clients report the JSON body instead of a challenge.
   */
  clientAuthMethod?: ClientAuthMethod | undefined;
  /**
   * `Retry-After` of `discovery_failed`: how long the service waits before asking a failed IdP again
   * (its `remoteFailureBackoffSeconds`).
   */
  remoteRetryAfterSeconds: number;
}

/**
 * Turns anything thrown while serving an OAuth endpoint into the OAuthError it answers with:
 * OAuthErrors pass through, RialtoErrors go through {@link EXCHANGE_ERROR_MAPPING} keeping their
 * description and headers (the exchange's code becomes `rialto_error`), store outages become
 * `temporarily_unavailable`, anything else, or an error the endpoint does not list, `server_error`.
 * Every `temporarily_unavailable` carries `Retry-After`.
 */
export function toOAuthError(error: unknown, context: OAuthErrorContext): OAuthError {
  const mapped = error instanceof OAuthError ? error : fromRialtoError(toRialtoError(error), error, context);
  const allowed: readonly OAuthErrorCode[] = ENDPOINT_ERRORS[context.endpoint];
  if (!allowed.includes(mapped.code)) {
    return new OAuthError('server_error', undefined, { rialtoError: 'server_error', cause: error });
  }
  return mapped;
}

// `thrown` is kept as the cause: the store's or the code's own error is what the host should log.
function fromRialtoError(error: RialtoError, thrown: unknown, context: OAuthErrorContext): OAuthError {
  const mapping: OAuthMapping = EXCHANGE_ERROR_MAPPING[error.code];
  if (mapping.error === 'server_error') {
    return new OAuthError('server_error', undefined, { rialtoError: 'server_error', cause: thrown });
  }
  const headers = { ...error.headers };
  if (mapping.error === 'temporarily_unavailable' && headers['retry-after'] === undefined) {
    const seconds =
      error.code === 'discovery_failed' ? context.remoteRetryAfterSeconds : DEFAULT_RETRY_AFTER_SECONDS;
    headers['retry-after'] = String(Math.max(1, Math.ceil(seconds)));
  }
  return new OAuthError(mapping.error, error.description, {
    ...(mapping.status === undefined ? {} : { status: mapping.status }),
    rialtoError: error.code,
    headers,
    cause: thrown,
  });
}

/**
 * The response of an OAuth endpoint for anything thrown while serving it: `{ error,
 * error_description, rialto_error? }` with `Cache-Control: no-store` (RFC 6749 §5.1).
 * @example
 * catch (error) { return oauthErrorResponse(error, { endpoint: 'token', clientAuthMethod: credentials?.method }); }
 */
export function oauthErrorResponse(error: unknown, context: OAuthErrorContext): ResponseLike {
  const oauthError = toOAuthError(error, context);
  const body = oauthErrorBody(oauthError);
  const headers = { ...oauthError.headers };
  if (oauthError.code === 'invalid_client' && context.clientAuthMethod === 'client_secret_basic') {
    headers['www-authenticate'] = basicChallenge(body);
  }
  return json(oauthError.status, body, headers);
}

/**
 * The statuses an endpoint answers errors with, each with its codes, for its OpenAPI document: the
 * codes' usual statuses and the mapping's own (429 for a limit). 405 and 413 are not listed: the
 * router and the bindings answer them before the endpoint runs, in the service's own format.
 */
export function oauthErrorStatuses(endpoint: OAuthEndpoint): Array<[number, OAuthErrorCode[]]> {
  const allowed: readonly OAuthErrorCode[] = ENDPOINT_ERRORS[endpoint];
  const byStatus = new Map<number, Set<OAuthErrorCode>>();
  const add = (status: number, code: OAuthErrorCode) => {
    if (status === 405 || status === 413) return;
    const codes = byStatus.get(status) ?? new Set();
    codes.add(code);
    byStatus.set(status, codes);
  };
  for (const code of allowed) add(oauthStatusOf(code), code);
  for (const mapping of Object.values(EXCHANGE_ERROR_MAPPING) as OAuthMapping[]) {
    if (mapping.status !== undefined && allowed.includes(mapping.error)) add(mapping.status, mapping.error);
  }
  return [...byStatus.entries()].sort(([a], [b]) => a - b).map(([status, codes]) => [status, [...codes]]);
}
