import { RialtoError } from '../errors.js';
import type { RequestLike } from '../http/http-types.js';
import { header } from '../http/messages.js';
import type { RialtoAccessTokenClaims } from '../tokens/mint-tokens.js';
import type { AccessTokenVerifier } from '../tokens/verify-access-token.js';
import type { UserLookup } from '../users/user-lookup.js';
import type { ApiKeys } from './api-keys.js';

/** Who is calling an org-scoped route, once authenticated. */
export type OrgCaller =
  /** The org's `X-API-Key`: the partner's backend, which acts on the whole organization. */
  | { kind: 'api_key'; orgId: string }
  /** An access token of one of the org's users; `isOrgAdmin` was checked against the store. */
  | { kind: 'user'; orgId: string; userId: string; isOrgAdmin: boolean; claims: RialtoAccessTokenClaims };

export interface OrgAccessOptions {
  /** Authenticates keys of active organizations only. */
  apiKeys: ApiKeys;
  /** Verifies access tokens of existing users of active organizations only. */
  accessTokens: AccessTokenVerifier;
  /** Cached users: how long a role is trusted before the store is asked again bounds a demotion's delay. */
  users: UserLookup;
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
}

export function createOrgAccess(options: OrgAccessOptions): OrgAccess {
  const { apiKeys, accessTokens, users } = options;

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
      const user = await users.get(claims.user_id);
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
  };
}
