import type { RequestLike } from './http-types.js';
import { bearerToken, secretsEqual } from './messages.js';

export interface AdminAuthOptions {
  adminToken?: string;
  authorizeAdmin?: (request: RequestLike) => boolean | Promise<boolean>;
}

export interface AdminAuth {
  /** With neither `adminToken` nor `authorizeAdmin`, admin routes do not exist (404). */
  readonly isConfigured: boolean;
  /** Whether the request carries the admin token, or the `authorizeAdmin` hook accepts it. */
  isAdmin(request: RequestLike): Promise<boolean>;
  /** Whether `token` is the configured admin token, compared in constant time. */
  isAdminToken(token: string): boolean;
}

export function createAdminAuth(options: AdminAuthOptions): AdminAuth {
  const { adminToken, authorizeAdmin } = options;
  const isAdminToken = (token: string) => adminToken !== undefined && secretsEqual(token, adminToken);
  return {
    isAdminToken,
    isConfigured: adminToken !== undefined || authorizeAdmin !== undefined,
    async isAdmin(request) {
      const token = bearerToken(request.headers);
      if (token !== undefined && isAdminToken(token)) return true;
      return authorizeAdmin ? (await authorizeAdmin(request)) === true : false;
    },
  };
}
