import { randomUUID } from 'node:crypto';
import { CompactSign } from 'jose';
import { epochSeconds } from './internal/clock.js';
import { signHs256Jwt } from './internal/hs256.js';
import type { SigningKeys } from './signing-keys.js';
import type { OrganizationRecord, Store, UserRecord, UserRole } from './store.js';
import { verificationFlagsJson } from './wire-format.js';

/** The body of a successful exchange or refresh. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  scope: string;
}

/** Claims of the service's access tokens. */
export interface RialtoAccessTokenClaims {
  iss: string;
  sub: string;
  aud: string[];
  iat: number;
  exp: number;
  jti: string;
  scope: string;
  org_id: string;
  org_name: string;
  user_id: string;
  email: string;
  /**
   * The user's role in its organization when the token was minted. A hint for UI gating only: the
   * service's org-wide routes check the role in the store again, so a demotion takes effect before
   * tokens minted earlier expire.
   */
  org_role: UserRole;
  onboarding_completed: boolean;
  kyc_completed: boolean;
  accredited: boolean;
  accreditation_verified: boolean;
}

export interface TokenMinterOptions {
  issuer: string;
  store: Store;
  signingKeys: SigningKeys;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

export interface TokenMinter {
  /**
   * Signs an access token and a refresh token for the user and records the refresh token.
   * @param familyId the refresh family to continue; a new one is started when omitted.
   */
  mint(org: OrganizationRecord, user: UserRecord, familyId?: string): Promise<TokenResponse>;
}

const BASE_SCOPES = 'openid email profile';
const encoder = new TextEncoder();
// RFC 9068 media type: resource servers can tell an access token from any other JWT.
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export function scopeFor(org: OrganizationRecord): string {
  return [BASE_SCOPES, ...org.audience.map((audience) => `aud:${audience}`)].join(' ');
}

export function createTokenMinter(options: TokenMinterOptions): TokenMinter {
  const { issuer, store, signingKeys, accessTokenTtlSeconds, refreshTokenTtlSeconds } = options;

  return {
    async mint(org, user, familyId = randomUUID()) {
      const keys = await signingKeys.load();
      const now = epochSeconds();
      const scope = scopeFor(org);
      const claims: RialtoAccessTokenClaims = {
        iss: issuer,
        sub: user.userId,
        aud: org.audience,
        iat: now,
        exp: now + accessTokenTtlSeconds,
        jti: randomUUID(),
        scope,
        org_id: org.orgId,
        org_name: org.name,
        user_id: user.userId,
        email: user.email,
        org_role: user.role,
        ...verificationFlagsJson(user),
      };
      const refreshJti = randomUUID();
      const refreshExpiresAt = now + refreshTokenTtlSeconds;
      const refreshToken = signHs256Jwt(
        { kid: keys.refresh.kid, typ: 'JWT' },
        {
          fid: familyId,
          org_id: org.orgId,
          iss: issuer,
          sub: user.userId,
          aud: issuer,
          jti: refreshJti,
          iat: now,
          exp: refreshExpiresAt,
        },
        keys.refresh.secret,
      );
      // CompactSign rather than SignJWT: the claims are built above from typed values, and SignJWT
      // would deep-copy and re-check them on every exchange.
      const [accessToken] = await Promise.all([
        new CompactSign(encoder.encode(JSON.stringify(claims)))
          .setProtectedHeader({ alg: keys.access.alg, kid: keys.access.kid, typ: ACCESS_TOKEN_TYPE })
          .sign(keys.access.key),
        store.saveRefreshToken({
          jti: refreshJti,
          familyId,
          orgId: org.orgId,
          userId: user.userId,
          expiresAt: refreshExpiresAt,
        }),
      ]);
      return {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: accessTokenTtlSeconds,
        refresh_token: refreshToken,
        refresh_expires_in: refreshTokenTtlSeconds,
        scope,
      };
    },
  };
}
