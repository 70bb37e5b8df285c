import { RialtoError } from '../errors.js';
import {
  authenticateClient,
  type ClientAuthMethod,
  readClientCredentials,
} from '../oauth/client-authentication.js';
import type { FormParameters } from '../oauth/form-body.js';
import type { ApiKeys } from '../organizations/api-keys.js';
import type { AdminAuth } from './admin-auth.js';
import type { RequestLike } from './http-types.js';
import { header } from './messages.js';

/** Who called an OAuth endpoint: an organization as its OAuth client, or the service admin. */
export type OAuthCaller = { kind: 'client'; orgId: string } | { kind: 'admin' };

export interface OAuthClientAttempt {
  /** How the request tried to authenticate, set as soon as it is known: a failed Basic attempt gets a Basic challenge. */
  method?: ClientAuthMethod;
}

export interface OAuthClientServices {
  /** Keys of active organizations only (a suspended one's is refused). */
  apiKeys: Pick<ApiKeys, 'authenticate'>;
  adminAuth: AdminAuth;
}

/**
 * Authenticates the caller of the revocation or introspection endpoint: the organization's client
 * credentials (RFC 6749 §2.3.1, or `X-API-Key`), or, where `admitsAdmin`, the admin token as
 * `Authorization: Bearer` (RFC 7662 §2.1 lets a resource server use a bearer token there).
 * @throws RialtoError `invalid_request` for two methods at once, `missing_api_key` for none,
 * `invalid_api_key` or `unauthorized` for wrong ones (all but the first answered `401 invalid_client`)
 */
export async function authenticateOAuthCaller(
  request: RequestLike,
  parameters: FormParameters,
  attempt: OAuthClientAttempt,
  services: OAuthClientServices,
  { admitsAdmin }: { admitsAdmin: boolean },
): Promise<OAuthCaller> {
  const credentials = readClientCredentials(request.headers, parameters);
  if (credentials !== undefined) {
    attempt.method = credentials.method;
    return { kind: 'client', orgId: await authenticateClient(credentials, services.apiKeys) };
  }
  if (admitsAdmin && (await services.adminAuth.isAdmin(request))) return { kind: 'admin' };
  if (admitsAdmin && header(request, 'authorization') !== undefined) {
    throw new RialtoError(
      'unauthorized',
      'The Authorization header is neither client credentials nor admin credentials.',
    );
  }
  throw new RialtoError(
    'missing_api_key',
    'The client must authenticate: HTTP Basic (client_secret_basic), client_id and client_secret in the body (client_secret_post), or the X-API-Key header.',
  );
}
