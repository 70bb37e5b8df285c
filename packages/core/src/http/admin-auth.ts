import { RialtoError } from '../errors.js';
import type { ApiKeys } from '../organizations/api-keys.js';
import type { RequestLike } from './http-types.js';
import { bearerToken, header, secretsEqual } from './messages.js';

export interface AdminAuthOptions {
  adminToken?: string;
  authorizeAdmin?: (request: RequestLike) => boolean | Promise<boolean>;
}

export interface AdminAuth {
  /** With neither `adminToken` nor `authorizeAdmin`, admin routes do not exist (404). */
  readonly isConfigured: boolean;
  isAdmin(request: RequestLike): Promise<boolean>;
  /** @throws RialtoError `not_found` when unconfigured, `unauthorized` when the caller is not admin */
  require(request: RequestLike): Promise<void>;
}

export function createAdminAuth(options: AdminAuthOptions): AdminAuth {
  const { adminToken, authorizeAdmin } = options;
  const isConfigured = adminToken !== undefined || authorizeAdmin !== undefined;

  async function isAdmin(request: RequestLike): Promise<boolean> {
    const token = bearerToken(request.headers);
    if (adminToken !== undefined && token !== undefined && secretsEqual(token, adminToken)) return true;
    return authorizeAdmin ? (await authorizeAdmin(request)) === true : false;
  }

  return {
    isConfigured,
    isAdmin,
    async require(request) {
      if (!isConfigured) throw new RialtoError('not_found');
      if (!(await isAdmin(request))) throw new RialtoError('unauthorized', 'Admin credentials are required.');
    },
  };
}

/**
 * Authenticates a route that an organization's API key or an admin may call.
 * @returns the org id when an API key authenticated the request, `undefined` for an admin
 * @throws RialtoError `missing_api_key`, `invalid_api_key` or `unauthorized`
 */
export async function authenticateApiKeyOrAdmin(
  request: RequestLike,
  apiKeys: ApiKeys,
  adminAuth: AdminAuth,
): Promise<string | undefined> {
  const apiKey = header(request, 'x-api-key');
  if (apiKey !== undefined) return apiKeys.authenticate(apiKey);
  if (await adminAuth.isAdmin(request)) return undefined;
  throw header(request, 'authorization') === undefined
    ? new RialtoError('missing_api_key', 'The X-API-Key header or admin credentials are required.')
    : new RialtoError('unauthorized', 'Admin credentials are not valid.');
}
