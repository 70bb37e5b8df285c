import type { RialtoErrorCode } from '../errors.js';

/**
 * The `error` values the OAuth endpoints answer with, their usual status and a default
 * description: RFC 6749 §5.2, RFC 8693 §2.2.2 (`invalid_target`), RFC 7009 §2.2.1
 * (`unsupported_token_type`), RFC 9449 §5 (`invalid_dpop_proof`) and RFC 6750 §3.1 (`invalid_token`,
 * at resource servers).
 */
const OAUTH_ERROR_TABLE = {
  invalid_request: [400, 'The request is missing a parameter, repeats one or is otherwise malformed.'],
  invalid_client: [401, 'Client authentication failed.'],
  invalid_grant: [400, 'The grant is invalid, expired, revoked or was issued to another client.'],
  unauthorized_client: [400, 'The client may not use this grant.'],
  unsupported_grant_type: [400, 'The grant type is not supported.'],
  invalid_scope: [400, 'The requested scope is outside what the client may be granted.'],
  invalid_target: [400, 'The requested audience or resource is outside what the client may be granted.'],
  invalid_dpop_proof: [400, 'The DPoP proof is invalid.'],
  unsupported_token_type: [400, 'Revoking this type of token is not supported.'],
  invalid_token: [401, 'The access token is invalid.'],
  temporarily_unavailable: [503, 'The service is temporarily unavailable. Retry later.'],
  server_error: [500, 'An unexpected error occurred.'],
} as const satisfies Record<string, readonly [number, string]>;

/** An OAuth `error` code. */
export type OAuthErrorCode = keyof typeof OAUTH_ERROR_TABLE;

/** Every OAuth error code, in the table's order. */
export const OAUTH_ERROR_CODES = Object.keys(OAUTH_ERROR_TABLE) as readonly OAuthErrorCode[];

/** The JSON body of an OAuth error response (RFC 6749 §5.2), with the exchange's own code beside it. */
export interface OAuthErrorBody {
  error: OAuthErrorCode;
  error_description: string;
  /** The exchange's code (`token_expired`, `org_mismatch`, …) when the failure has one. */
  rialto_error?: RialtoErrorCode;
}

export interface OAuthErrorOptions {
  /** The status when it differs from the code's usual one (`invalid_dpop_proof` is 401 at resource servers). */
  status?: number;
  /** The exchange's code for the same failure, sent as `rialto_error`. */
  rialtoError?: RialtoErrorCode;
  /** Extra response headers, e.g. `WWW-Authenticate` or `Retry-After`. */
  headers?: Record<string, string>;
  /** The underlying failure. Logged by the host, never sent to the client. */
  cause?: unknown;
}

/**
 * A request-time failure of an OAuth endpoint that the exchange's own codes cannot name
 * (`invalid_target`, `invalid_dpop_proof`, …). Failures the exchange names are `RialtoError`s and
 * reach the wire through the mapping table in `error-mapping.ts`.
 *
 * `description` is sent to the client: it never contains tokens, keys, secrets or request values.
 * A `server_error` is never exposed: the client sees the generic description.
 *
 * @example
 * throw new OAuthError('invalid_target', 'The audience "billing" is not one of the organization\'s audiences.');
 */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly code: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly expose: boolean;
  readonly rialtoError: RialtoErrorCode | undefined;
  readonly headers: Record<string, string>;

  constructor(code: OAuthErrorCode, description?: string, options: OAuthErrorOptions = {}) {
    const [status, defaultDescription] = OAUTH_ERROR_TABLE[code];
    super(description ?? defaultDescription, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? status;
    this.description = description ?? defaultDescription;
    this.expose = code !== 'server_error';
    this.rialtoError = options.rialtoError;
    this.headers = options.headers ?? {};
  }
}

/** The usual HTTP status of an OAuth error code. */
export function oauthStatusOf(code: OAuthErrorCode): number {
  return OAUTH_ERROR_TABLE[code][0];
}

/** The response body for an OAuth error; unexposed errors get the code's generic description. */
export function oauthErrorBody(error: OAuthError): OAuthErrorBody {
  const body: OAuthErrorBody = {
    error: error.code,
    error_description: error.expose ? error.description : OAUTH_ERROR_TABLE[error.code][1],
  };
  if (error.rialtoError !== undefined) body.rialto_error = error.rialtoError;
  return body;
}
