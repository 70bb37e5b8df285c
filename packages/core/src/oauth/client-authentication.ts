import { RialtoError } from '../errors.js';
import type { RequestLike } from '../http/http-types.js';
import type { ApiKeys } from '../organizations/api-keys.js';
import { type FormParameters, formUrlDecode } from './form-body.js';

/**
 * How an organization authenticates as an OAuth client: its API key as `client_secret`, by HTTP
 * Basic or in the body (RFC 6749 §2.3.1), or in the exchange's own `X-API-Key` header.
 */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'api_key_header';

/** The credentials a request presents, not yet verified. */
export interface ClientCredentials {
  method: ClientAuthMethod;
  /** The `client_id` the request claims (an org id), if it names one. */
  clientId: string | undefined;
  /** The whole API key (`rialto_ak_…`). Never log it. */
  secret: string;
}

const fix =
  'Authenticate with HTTP Basic (client_secret_basic), client_id and client_secret in the body (client_secret_post), or the X-API-Key header.';

/**
 * Reads the client credentials of a request to an OAuth endpoint. An `Authorization` header of
 * another scheme (an admin's Bearer token at introspection) is not client authentication and is
 * left to the caller.
 * @returns `undefined` when the request presents no client secret at all
 * @throws RialtoError `invalid_request` when the request uses more than one method (RFC 6749 §2.3),
 * Basic credentials are malformed or not form-urlencoded, a body `client_id` contradicts them, or
 * `client_secret_post` lacks `client_id`
 */
export function readClientCredentials(
  headers: RequestLike['headers'],
  parameters: FormParameters,
): ClientCredentials | undefined {
  const authorization = first(headers.authorization);
  const basic =
    authorization !== undefined && /^basic(?: |$)/i.test(authorization) ? authorization : undefined;
  const postedSecret = single(parameters, 'client_secret');
  const apiKey = first(headers['x-api-key']) || undefined;
  const postedClientId = single(parameters, 'client_id');

  const used = [basic, postedSecret, apiKey].filter((value) => value !== undefined).length;
  if (used > 1) {
    throw new RialtoError(
      'invalid_request',
      `The client authenticated in more than one way; use exactly one. ${fix}`,
    );
  }
  if (basic !== undefined) {
    const credentials = decodeBasic(basic);
    if (postedClientId !== undefined && postedClientId !== credentials.clientId) {
      throw new RialtoError(
        'invalid_request',
        'The client_id in the body differs from the one in HTTP Basic.',
      );
    }
    return credentials;
  }
  if (postedSecret !== undefined) {
    if (postedClientId === undefined) {
      throw new RialtoError(
        'invalid_request',
        'client_secret_post needs client_id beside client_secret in the body (RFC 6749 §2.3.1).',
      );
    }
    return { method: 'client_secret_post', clientId: postedClientId, secret: postedSecret };
  }
  if (apiKey !== undefined) return { method: 'api_key_header', clientId: postedClientId, secret: apiKey };
  return undefined;
}

// Keyed by the request object, so nothing is added to `RequestLike` and nothing outlives the request.
const attemptedMethods = new WeakMap<Pick<RequestLike, 'headers'>, ClientAuthMethod>();

/**
 * {@link readClientCredentials} for endpoints every request of which must authenticate the client.
 * Records on the request how it authenticated, for {@link clientAuthMethodOf}.
 * @throws RialtoError `missing_api_key` (answered as `401 invalid_client`) when there are none
 */
export function requireClientCredentials(
  request: Pick<RequestLike, 'headers'>,
  parameters: FormParameters,
): ClientCredentials {
  const credentials = readClientCredentials(request.headers, parameters);
  if (credentials === undefined) {
    throw new RialtoError('missing_api_key', `The client must authenticate. ${fix}`);
  }
  attemptedMethods.set(request, credentials.method);
  return credentials;
}

/**
 * How the request authenticated its client, or tried to, once {@link requireClientCredentials} read
 * it: the error answer challenges a failed `client_secret_basic` attempt (RFC 6749 §5.2).
 */
export function clientAuthMethodOf(request: Pick<RequestLike, 'headers'>): ClientAuthMethod | undefined {
  return attemptedMethods.get(request);
}

/**
 * Verifies client credentials: the secret must be an active API key, and a claimed `client_id`
 * must be the organization that key belongs to.
 * @returns the authenticated organization's id
 * @throws RialtoError `missing_api_key` for an empty secret, `invalid_api_key` for a wrong one or
 * a `client_id` of another org (both answered as `401 invalid_client`), or what
 * `apiKeys.authenticate` throws (`temporarily_unavailable` when the store is down)
 */
export async function authenticateClient(
  credentials: ClientCredentials,
  apiKeys: Pick<ApiKeys, 'authenticate'>,
): Promise<string> {
  if (credentials.secret === '') throw new RialtoError('missing_api_key', 'The client_secret is empty.');
  const orgId = await apiKeys.authenticate(credentials.secret);
  if (credentials.clientId !== undefined && credentials.clientId !== orgId) {
    throw new RialtoError(
      'invalid_api_key',
      'The client_id is not the organization that the client_secret belongs to.',
    );
  }
  return orgId;
}

/**
 * RFC 7617 credentials whose two parts RFC 6749 §2.3.1 form-urlencodes before base64, so `+`, `%`,
 * `:` and non-ASCII characters survive; they are decoded after. The split is at the first colon:
 * an encoded client_id has none, and a secret sent unencoded keeps its own.
 */
function decodeBasic(authorization: string): ClientCredentials {
  const token = authorization.slice('basic'.length).trim();
  const decoded = isBase64(token) ? utf8(Buffer.from(token, 'base64')) : undefined;
  const separator = decoded?.indexOf(':') ?? -1;
  if (decoded === undefined || separator === -1) {
    throw new RialtoError(
      'invalid_request',
      'The Authorization header must be "Basic " and the base64 of client_id:client_secret.',
    );
  }
  const clientId = formUrlDecode(decoded.slice(0, separator));
  const secret = formUrlDecode(decoded.slice(separator + 1));
  if (clientId === null || secret === null) {
    throw new RialtoError(
      'invalid_request',
      'The client_id and client_secret in HTTP Basic must each be form-urlencoded (RFC 6749 §2.3.1).',
    );
  }
  if (clientId === '')
    throw new RialtoError('invalid_request', 'HTTP Basic credentials must name the client_id.');
  // An empty secret is a failed Basic authentication, refused by authenticateClient, so that the
  // answer knows Basic was used and carries its challenge.
  return { method: 'client_secret_basic', clientId, secret };
}

// Standard alphabet, padded or not, but never a length no encoder produces: Buffer would decode anything.
function isBase64(value: string): boolean {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(value);
  if (!match?.[1]) return false;
  const [, data, padding = ''] = match;
  const remainder = data.length % 4;
  if (padding === '') return remainder !== 1;
  return padding.length === 4 - remainder;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function utf8(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function single(parameters: FormParameters, name: string): string | undefined {
  const value = parameters[name];
  return typeof value === 'string' ? value : undefined;
}
