import { LRUCache } from 'lru-cache';
import type { ApiKeys } from './api-keys.js';
import { RialtoError } from './errors.js';
import type { RequestLike } from './http-types.js';
import { header } from './internal/http.js';
import type { RialtoAccessTokenClaims } from './mint-tokens.js';
import type { Store, UserRecord } from './store.js';
import type { AccessTokenVerifier } from './verify-access-token.js';

/** Who is calling an org-scoped route, once authenticated. */
export type OrgCaller =
  /** The org's `X-API-Key`: the partner's backend, which acts on the whole organization. */
  | { kind: 'api_key'; orgId: string }
  /** An access token of one of the org's users; `isOrgAdmin` was checked against the store. */
  | { kind: 'user'; orgId: string; userId: string; isOrgAdmin: boolean; claims: RialtoAccessTokenClaims };

export interface OrgAccessOptions {
  store: Store;
  apiKeys: ApiKeys;
  accessTokens: AccessTokenVerifier;
  /** How long a user's role is trusted before the store is asked again: the bound on a demotion's delay. */
  cacheTtlSeconds: number;
  maxCachedUsers: number;
}

export interface OrgAccess {
  /**
   * Authenticates an org-scoped request: the `X-API-Key` when present, otherwise the
   * `Authorization: Bearer` access token. An org admin's claim is confirmed against the store.
   * @throws RialtoError `unauthorized` (neither credential), `invalid_api_key`, `invalid_access_token`
   */
  authenticate(request: RequestLike): Promise<OrgCaller>;
  /**
   * As `authenticate`, for routes that act on the whole organization (any user, webhooks).
   * @returns the org id the caller may act on
   * @throws RialtoError `insufficient_role` for a plain user's token, besides `authenticate`'s errors
   */
  requireOrgWide(request: RequestLike): Promise<string>;
  /** Drops the cached role of a user this instance changed, so the change applies here at once. */
  forgetUser(userId: string): void;
}

export function createOrgAccess(options: OrgAccessOptions): OrgAccess {
  const { store, apiKeys, accessTokens } = options;
  // Keyed by user id only: a user belongs to one org, and the record names it.
  const users = new LRUCache<string, { user: UserRecord | null }>({
    max: options.maxCachedUsers,
    ttl: options.cacheTtlSeconds * 1000,
    ttlResolution: 0,
    fetchMethod: async (userId) => ({ user: await store.getUserById(userId) }),
  });

  async function currentUser(userId: string): Promise<UserRecord | null> {
    return (users.get(userId) ?? (await users.fetch(userId)))?.user ?? null;
  }

  async function authenticate(request: RequestLike): Promise<OrgCaller> {
    const apiKey = header(request, 'x-api-key');
    if (apiKey !== undefined) return { kind: 'api_key', orgId: await apiKeys.authenticate(apiKey) };
    if (header(request, 'authorization') === undefined) {
      throw new RialtoError(
        'unauthorized',
        "The organization's X-API-Key header or a Bearer access token is required.",
      );
    }
    const { claims } = await accessTokens.authenticate(request.headers);
    // The claim alone is not trusted: a demoted admin's token lives until it expires. Plain users'
    // tokens need no store read here.
    let isOrgAdmin = false;
    if (claims.org_role === 'org_admin') {
      const user = await currentUser(claims.user_id);
      isOrgAdmin = user !== null && user.orgId === claims.org_id && user.role === 'org_admin';
    }
    return { kind: 'user', orgId: claims.org_id, userId: claims.user_id, isOrgAdmin, claims };
  }

  return {
    authenticate,
    async requireOrgWide(request) {
      const caller = await authenticate(request);
      if (caller.kind === 'user' && !caller.isOrgAdmin) throw new RialtoError('insufficient_role');
      return caller.orgId;
    },
    forgetUser(userId) {
      users.delete(userId);
    },
  };
}
