import { decodeProtectedHeader } from 'jose';
import type { z } from 'zod';
import { RialtoError } from '../errors.js';
import type { oauthIntrospectionResponseSchema } from '../http/wire-format.js';
import { ACCESS_TOKEN_TYPE, scopeFor } from './mint-tokens.js';
import type { RefreshTokens } from './refresh-tokens.js';
import type { AccessTokenVerifier } from './verify-access-token.js';

/** An introspection answer (RFC 7662 §2.2). */
export type IntrospectionResponse = z.infer<typeof oauthIntrospectionResponseSchema>;

/** Who asks: an organization sees its own tokens only; the service admin sees every one. */
export type IntrospectionViewer = { kind: 'organization'; orgId: string } | { kind: 'admin' };

export interface TokenIntrospection {
  /**
   * Describes one of this service's tokens to a resource server. Anything the service would not
   * honour now (expired, revoked, used, tampered, of a deleted user or a suspended organization,
   * another organization's, or no token of this service at all) is `{ active: false }` and nothing
   * else, so an inactive answer never says why.
   * @throws what the store throws when it is down: an outage is not an inactive token
   */
  introspect(token: string, viewer: IntrospectionViewer): Promise<IntrospectionResponse>;
}

const INACTIVE: IntrospectionResponse = Object.freeze({ active: false as const });
// The refusals that mean "not a token the service honours"; anything else (an outage) is thrown.
const INACTIVE_CODES = new Set(['invalid_access_token', 'organization_suspended', 'invalid_grant']);

export function createTokenIntrospection(deps: {
  accessTokens: Pick<AccessTokenVerifier, 'verify'>;
  refreshTokens: Pick<RefreshTokens, 'inspect'>;
}): TokenIntrospection {
  const { accessTokens, refreshTokens } = deps;
  const sees = (viewer: IntrospectionViewer, orgId: string) =>
    viewer.kind === 'admin' || viewer.orgId === orgId;

  async function introspectAccessToken(token: string, viewer: IntrospectionViewer) {
    const claims = await accessTokens.verify(token);
    if (!sees(viewer, claims.org_id)) return INACTIVE;
    const jkt = claims.cnf?.jkt;
    return {
      active: true as const,
      token_type: jkt === undefined ? ('Bearer' as const) : ('DPoP' as const),
      scope: claims.scope,
      client_id: claims.org_id,
      sub: claims.sub,
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      aud: claims.aud,
      org_id: claims.org_id,
      user_id: claims.user_id,
      ...(jkt === undefined ? {} : { cnf: { jkt } }),
    };
  }

  async function introspectRefreshToken(token: string, viewer: IntrospectionViewer) {
    const active = await refreshTokens.inspect(token);
    if (active === undefined || !sees(viewer, active.claims.org_id)) return INACTIVE;
    const { claims, org } = active;
    return {
      active: true as const,
      token_type: 'refresh_token' as const,
      // What refreshing it would grant now.
      scope: scopeFor(org),
      client_id: claims.org_id,
      sub: claims.sub,
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      aud: claims.aud,
      org_id: claims.org_id,
      user_id: claims.sub,
    };
  }

  return {
    async introspect(token, viewer) {
      // The header's typ tells the two apart without any crypto (RFC 9068 access tokens are at+jwt);
      // a lie there only sends the token to the check that refuses it.
      const type = typeOf(token);
      try {
        if (type === ACCESS_TOKEN_TYPE) return await introspectAccessToken(token, viewer);
        if (type === 'JWT') return await introspectRefreshToken(token, viewer);
        return INACTIVE;
      } catch (error) {
        if (error instanceof RialtoError && INACTIVE_CODES.has(error.code)) return INACTIVE;
        throw error;
      }
    },
  };
}

/** The `typ` of a compact JWS's protected header, or `undefined` when it is not one. */
export function typeOf(token: string): string | undefined {
  try {
    const { typ } = decodeProtectedHeader(token);
    return typeof typ === 'string' ? typ : undefined;
  } catch {
    return undefined;
  }
}
