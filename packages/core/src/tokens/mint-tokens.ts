import { KeyObject, randomUUID } from 'node:crypto';
import { CompactSign } from 'jose';
import type { z } from 'zod';
import { type tokenResponseSchema, verificationFlagsJson } from '../http/wire-format.js';
import { epochSeconds } from '../internal/clock.js';
import { signHs256Jwt } from '../internal/hs256.js';
import type { LoadedKeys, SigningKeys } from '../keys/signing-keys.js';
import type { JsonValue } from '../policy/custom-claims.js';
import type { OrganizationRecord, RefreshTokenRecord, Store, UserRecord, UserRole } from '../store/store.js';

/**
 * The body of a successful exchange or refresh. Built field by field on the hot path rather than
 * parsed: this type is the schema's, so the compiler refuses a field the OpenAPI document lacks.
 */
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

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
  /** Tokens of the OAuth token endpoint: the organization, as the OAuth client (RFC 9068 §2.2). */
  client_id?: string;
  /** A DPoP-bound token: the thumbprint of the key its proofs must be signed with (RFC 9449 §6.1). */
  cnf?: { jkt: string };
}

/**
 * What the OAuth token endpoint grants beyond the seed exchange: the audiences a request narrowed
 * the token to, and the DPoP key it bound it to. A whole refresh family keeps it: it travels,
 * signed, in each of its refresh tokens, so every instance and every store knows it.
 */
export interface OAuthGrant {
  /** Audience names, `identity` among them; a refresh grants those the organization still has. */
  audience: readonly string[];
  /** RFC 7638 thumbprint of the DPoP key the tokens are bound to. */
  jkt?: string;
}

/**
 * What every refresh token of a family carries, signed, so that each successor and each access
 * token refreshed from it gets the same: the OAuth grant (token endpoint families only), the
 * exchange policy's custom claims (a refresh has no ID token to evaluate the policy on again), and
 * the issuer registration the family began with (so that removing it can end the family).
 */
export interface FamilyCarry {
  grant?: OAuthGrant;
  /** Names the exchange does not own, 4 KiB of JSON at most; in the refresh token as `mapped_claims`. */
  customClaims?: Readonly<Record<string, JsonValue>>;
  /** In the refresh token as `registration_id`. */
  registrationId?: string;
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
   * Signs an access token and a refresh token that starts a new family, and records the refresh
   * token. The refresh token carries `carry` (see `FamilyCarry`); the grant also binds the access
   * token, and the custom claims join it, the exchange's own claims written after them.
   */
  mint(org: OrganizationRecord, user: UserRecord, carry?: FamilyCarry): Promise<TokenResponse>;
  /**
   * The record of a refresh token to succeed one of `familyId`, issued `now` under the current
   * refresh secret. Nothing is signed or stored: the store rotates it in.
   */
  successorOf(
    previous: { familyId: string; orgId: string; userId: string },
    now: number,
  ): Promise<RefreshTokenRecord>;
  /**
   * Signs a fresh access token and the refresh token `refreshToken` describes. The refresh token's
   * bytes depend on the record and the family's carry alone, so a retried refresh answers with the
   * very token it got first.
   */
  respond(
    org: OrganizationRecord,
    user: UserRecord,
    refreshToken: RefreshTokenRecord,
    now: number,
    carry?: FamilyCarry,
  ): Promise<TokenResponse>;
}

const BASE_SCOPES = 'openid email profile';
const encoder = new TextEncoder();
// RFC 9068 media type: resource servers can tell an access token from any other JWT.
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export function scopeFor(org: OrganizationRecord): string {
  return scopeOf(org.audience);
}

/** The scope of a token for these audiences: the OpenID scopes and `aud:<name>` for each. */
export function scopeOf(audience: readonly string[]): string {
  return [BASE_SCOPES, ...audience.map((name) => `aud:${name}`)].join(' ');
}

/**
 * The audiences a token gets: the organization's, or of those the grant's it still has (an
 * audience removed from the organization leaves its refresh families too).
 */
function audienceFor(org: OrganizationRecord, grant: OAuthGrant | undefined): string[] {
  return grant === undefined ? org.audience : org.audience.filter((name) => grant.audience.includes(name));
}

export function createTokenMinter(options: TokenMinterOptions): TokenMinter {
  const { issuer, store, signingKeys, accessTokenTtlSeconds, refreshTokenTtlSeconds } = options;

  async function refreshRecord(
    previous: { familyId: string; orgId: string; userId: string },
    now: number,
  ): Promise<RefreshTokenRecord> {
    const keys = await signingKeys.load();
    return {
      jti: randomUUID(),
      familyId: previous.familyId,
      orgId: previous.orgId,
      userId: previous.userId,
      issuedAt: now,
      expiresAt: now + refreshTokenTtlSeconds,
      kid: keys.refresh.kid,
    };
  }

  async function respond(
    org: OrganizationRecord,
    user: UserRecord,
    refreshToken: RefreshTokenRecord,
    now: number,
    carry: FamilyCarry = {},
  ): Promise<TokenResponse> {
    const { grant, customClaims } = carry;
    const keys = await signingKeys.load();
    const audience = audienceFor(org, grant);
    const scope = scopeOf(audience);
    const claims: RialtoAccessTokenClaims = {
      iss: issuer,
      sub: user.userId,
      aud: audience,
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
      ...(grant === undefined ? {} : { client_id: org.orgId }),
      ...(grant?.jkt === undefined ? {} : { cnf: { jkt: grant.jkt } }),
    };
    // Custom claims first: a name the exchange owns was refused at registration (and from the
    // hook), and the exchange's own value would win anyway.
    const payload = customClaims === undefined ? claims : { ...customClaims, ...claims };
    // CompactSign rather than SignJWT: the claims are built above from typed values, and SignJWT
    // would deep-copy and re-check them on every exchange.
    const accessToken = await new CompactSign(encoder.encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: keys.access.alg, kid: keys.access.kid, typ: ACCESS_TOKEN_TYPE })
      .sign(keys.access.key);
    return {
      access_token: accessToken,
      token_type: grant?.jkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: accessTokenTtlSeconds,
      refresh_token: signRefreshToken(refreshToken, keys, carry),
      refresh_expires_in: Math.max(0, refreshToken.expiresAt - now),
      scope,
    };
  }

  function signRefreshToken(
    record: RefreshTokenRecord,
    keys: LoadedKeys,
    { grant, customClaims, registrationId }: FamilyCarry,
  ): string {
    // A retry within the grace window may come after a secret rotation: the record's own secret
    // still verifies (it is kept while its tokens live), so the same bytes come out.
    const secret =
      record.kid === keys.refresh.kid
        ? keys.refresh.secret
        : secretOf(keys.refreshSecretsByKid.get(record.kid));
    const kid = secret ? record.kid : keys.refresh.kid;
    return signHs256Jwt(
      { kid, typ: 'JWT' },
      {
        fid: record.familyId,
        org_id: record.orgId,
        iss: issuer,
        sub: record.userId,
        aud: issuer,
        jti: record.jti,
        iat: record.issuedAt,
        exp: record.expiresAt,
        // The family's grant (see `OAuthGrant`); `client_id` also keeps the token from the seed route.
        ...(grant === undefined ? {} : { client_id: record.orgId, scope: scopeOf(grant.audience) }),
        ...(grant?.jkt === undefined ? {} : { cnf: { jkt: grant.jkt } }),
        ...(hasClaims(customClaims) ? { mapped_claims: customClaims } : {}),
        ...(registrationId === undefined ? {} : { registration_id: registrationId }),
      },
      secret ?? keys.refresh.secret,
    );
  }

  return {
    async mint(org, user, carry) {
      const now = epochSeconds();
      const refreshToken = await refreshRecord(
        { familyId: randomUUID(), orgId: org.orgId, userId: user.userId },
        now,
      );
      const [tokens] = await Promise.all([
        respond(org, user, refreshToken, now, carry),
        store.saveRefreshToken(refreshToken),
      ]);
      return tokens;
    },
    successorOf: refreshRecord,
    respond,
  };
}

function hasClaims(
  claims: Readonly<Record<string, JsonValue>> | undefined,
): claims is Readonly<Record<string, JsonValue>> {
  if (claims === undefined) return false;
  for (const _ in claims) return true;
  return false;
}

function secretOf(key: Parameters<typeof KeyObject.from>[0] | undefined): KeyObject | undefined {
  return key && KeyObject.from(key);
}
