/**
 * Every failure a client can see, with its HTTP status and a default description.
 * Callers and tests branch on the code, never on the description.
 */
const ERROR_TABLE = {
  missing_api_key: [401, 'The X-API-Key header is required.'],
  invalid_api_key: [401, 'The API key is not valid for any organization.'],
  invalid_token: [400, 'The token is not a valid JWT.'],
  invalid_signature: [401, "The token's signature could not be verified against the issuer's keys."],
  token_expired: [401, 'The token has expired.'],
  invalid_issuer: [401, 'The token issuer is not trusted.'],
  invalid_audience: [401, 'The token was not issued to a client registered for this organization.'],
  discovery_failed: [502, "The issuer's OpenID configuration or key set could not be retrieved."],
  issuer_not_registered: [403, "No organization registers the token's issuer for a client in its audience."],
  org_mismatch: [403, "The API key belongs to a different organization than the token's issuer."],
  account_conflict: [409, 'A user with this email exists and the identity cannot be linked to it.'],
  invalid_transition: [409, "The requested status change is not allowed from the user's current status."],
  invalid_request: [400, 'The request is malformed.'],
  invalid_grant: [400, 'The refresh token is invalid, expired, revoked or already used.'],
  unauthorized: [401, 'Authentication is required.'],
  invalid_access_token: [
    401,
    'The access token is missing, malformed, expired or not issued by this service.',
  ],
  invalid_dpop_proof: [
    401,
    "The DPoP proof is missing or invalid: send a fresh proof of the access token's key for this request.",
  ],
  insufficient_claims: [403, 'The access token does not carry the claims this resource requires.'],
  insufficient_role: [
    403,
    "This action takes the organization's API key or an access token of one of its org admins.",
  ],
  organization_suspended: [403, 'The organization is suspended.'],
  user_not_provisioned: [
    403,
    'This organization signs in only users it has created beforehand, and none matches this identity.',
  ],
  access_denied: [403, "The issuer's exchange policy refused this identity."],
  not_found: [404, 'The resource does not exist.'],
  method_not_allowed: [405, 'The method is not allowed on this resource.'],
  conflict: [409, 'The resource already exists.'],
  request_too_large: [413, 'The request body is too large.'],
  unsupported_media_type: [415, 'The request body must be JSON.'],
  rate_limited: [429, 'Too many requests. Retry after the time in the Retry-After header.'],
  server_error: [500, 'An unexpected error occurred.'],
  temporarily_unavailable: [503, 'The service is temporarily unavailable. Retry later.'],
} as const satisfies Record<string, readonly [number, string]>;

/** A machine-readable error code, sent as `error` in every error response. */
export type RialtoErrorCode = keyof typeof ERROR_TABLE;

/** Every error code, in the table's order. */
export const ERROR_CODES = Object.keys(ERROR_TABLE) as readonly RialtoErrorCode[];

/** The JSON body of every error response. */
export interface ErrorBody {
  error: RialtoErrorCode;
  error_description: string;
}

export interface RialtoErrorOptions {
  /** Extra response headers, e.g. `Retry-After` or `Allow`. */
  headers?: Record<string, string>;
  /** The underlying failure. Logged by the host, never sent to the client. */
  cause?: unknown;
}

/**
 * A request-time failure that maps to one HTTP response.
 *
 * `description` is sent to the client, so it never contains tokens, keys, secrets or upstream
 * response bodies; put those in `cause`. A `server_error` is never exposed: the client sees the
 * generic description, whatever the throw site wrote.
 *
 * @example
 * throw new RialtoError('invalid_token', 'The token must contain a sub claim.');
 */
export class RialtoError extends Error {
  override readonly name = 'RialtoError';
  readonly code: RialtoErrorCode;
  readonly status: number;
  readonly description: string;
  /** Whether `description` may be sent to the client. */
  readonly expose: boolean;
  readonly headers: Record<string, string>;

  constructor(code: RialtoErrorCode, description?: string, options: RialtoErrorOptions = {}) {
    const [status, defaultDescription] = ERROR_TABLE[code];
    super(description ?? defaultDescription, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.description = description ?? defaultDescription;
    this.expose = code !== 'server_error';
    this.headers = options.headers ?? {};
  }
}

/**
 * Thrown by a Store when its backend cannot be reached or fails mid-operation. The handler
 * answers 503 `temporarily_unavailable`; the store guarantees the operation left nothing half-written.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The HTTP status of an error code. */
export function statusOf(code: RialtoErrorCode): number {
  return ERROR_TABLE[code][0];
}

/**
 * Turns any thrown value into a RialtoError: RialtoErrors pass through, store outages become
 * `temporarily_unavailable`, anything else becomes `server_error` with the original as `cause`.
 */
export function toRialtoError(error: unknown): RialtoError {
  if (error instanceof RialtoError) return error;
  if (error instanceof StoreUnavailableError) {
    return new RialtoError('temporarily_unavailable', undefined, {
      cause: error,
      headers: { 'retry-after': '1' },
    });
  }
  return new RialtoError('server_error', undefined, { cause: error });
}

/** The response body for an error; unexposed errors get the code's generic description. */
export function errorBody(error: RialtoError): ErrorBody {
  return {
    error: error.code,
    error_description: error.expose ? error.description : ERROR_TABLE[error.code][1],
  };
}
