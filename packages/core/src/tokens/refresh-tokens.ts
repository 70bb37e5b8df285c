import { errors as joseErrors, jwtVerify } from 'jose';
import { RialtoError } from '../errors.js';
import type { RequestLike } from '../http/http-types.js';
import { parseJsonBody } from '../http/messages.js';
import { refreshRequestSchema } from '../http/wire-format.js';
import { epochSeconds } from '../internal/clock.js';
import { kidOf } from '../internal/kid-of.js';
import { REFRESH_TOKEN_ALGORITHM, type SigningKeys } from '../keys/signing-keys.js';
import { refuseUnboundTokens } from '../oauth/dpop-requirement.js';
import { OAuthError } from '../oauth/oauth-error.js';
import { hasEndedSessionsOf, type Organizations } from '../organizations/organizations.js';
import type { JsonValue } from '../policy/custom-claims.js';
import type { OrganizationRecord, Store } from '../store/store.js';
import type { RialtoEvents } from '../telemetry/audit-events.js';
import type { OAuthGrant, TokenMinter, TokenResponse } from './mint-tokens.js';

export interface RefreshTokensOptions {
  issuer: string;
  store: Store;
  signingKeys: SigningKeys;
  organizations: Organizations;
  minter: TokenMinter;
  events: RialtoEvents;
  clockToleranceSeconds: number;
  /** See `refreshTokenRetryGraceSeconds`. */
  retryGraceSeconds: number;
}

export interface RefreshClaims {
  jti: string;
  sub: string;
  fid: string;
  org_id: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  /** Present on tokens of the OAuth token endpoint, with the family's `scope` (and `cnf`). */
  client_id?: string;
  scope?: string;
  cnf?: { jkt?: unknown };
  /**
   * The exchange policy's custom claims of the family's first access token, which every refreshed
   * access token carries again (the policy cannot run again: there is no ID token at refresh).
   */
  mapped_claims?: Record<string, JsonValue>;
  /**
   * The issuer registration the family began with; absent on families begun before it was
   * recorded. Removing the registration with `end_sessions` ends the family.
   */
  registration_id?: string;
}

/** What a client authenticated at the token endpoint presents with its refresh token. */
export interface ClientRefresh {
  /** The refresh token, unverified. */
  refreshToken: string;
  /** The authenticated client's organization: the token must be one of its own. */
  orgId: string;
  /**
   * Checks the request's DPoP proof once the token is known to be the client's own.
   * @returns the proof key's thumbprint, or `undefined` (at once) when the request carries no proof
   */
  proofKey(): Promise<string | undefined> | undefined;
  /**
   * Narrows the new access token to a subset of the family's audiences (RFC 6749 §6); the
   * refresh token keeps the family's own.
   * @returns the audiences of the new access token
   */
  narrow(familyAudience: readonly string[]): readonly string[];
}

/** A refresh token that would still rotate now, as introspection describes it. */
export interface ActiveRefreshToken {
  claims: RefreshClaims;
  /** Its organization, active. */
  org: OrganizationRecord;
}

export interface RefreshTokens {
  /**
   * Trades a refresh token for a new pair. Each refresh token works once: presenting a used one
   * again revokes its whole family (RFC 9700 §4.14.2), so a stolen token dies with the original.
   * The exception is a retry within the grace window, before the successor is used: it gets the
   * same successor again, so a refresh that answered 503 (or whose answer was lost) after the
   * store wrote it costs no session. The new access token carries the user's current flags.
   * @throws RialtoError `invalid_request` (no `refresh_token`, or an organization that now requires
   * DPoP-bound tokens: the token is left unused) or `invalid_grant` (also, left unused, for a family
   * whose issuer registration was removed with its sessions ended)
   */
  refresh(body: RequestLike['body']): Promise<TokenResponse>;
  /**
   * `refresh` for the OAuth token endpoint (`grant_type=refresh_token`): the same rotation, grace
   * window and reuse detection, for a token of the authenticated client's organization only. A
   * token of another organization is refused before anything is used, so its owner keeps it; a
   * DPoP-bound family needs a proof with its key.
   * @throws RialtoError `invalid_grant`, `organization_suspended`, `invalid_request` (an unbound
   * family of an organization that now requires DPoP, left unused); OAuthError `invalid_dpop_proof`
   */
  refreshForClient(request: ClientRefresh): Promise<TokenResponse>;
  /**
   * Revokes the family of a refresh token. As RFC 7009 §2.2 asks, an unknown or invalid token is
   * not an error: the caller learns nothing about which tokens exist.
   * @throws RialtoError `invalid_request` (no `refresh_token`)
   */
  revoke(body: RequestLike['body']): Promise<void>;
  /**
   * Revokes the family of a refresh token of `orgId` (RFC 7009 at the OAuth revocation endpoint).
   * A token that is not this service's, or belongs to another organization, changes nothing, so
   * that revocation reveals nothing about other organizations' tokens.
   * @returns whether the token was one of `orgId`'s refresh tokens (its family is now revoked)
   */
  revokeOfOrganization(token: string, orgId: string): Promise<boolean>;
  /**
   * Whether a refresh token would be honoured now (RFC 7662 introspection): signed by this service,
   * unexpired, neither used nor revoked in the store, its user existing, its organization active,
   * and its family not ended with the issuer registration it began with.
   * @returns `undefined` for any other token, whatever the reason
   * @throws what the store throws when it is down: an outage is not an inactive token
   */
  inspect(token: string): Promise<ActiveRefreshToken | undefined>;
}

export function createRefreshTokens(options: RefreshTokensOptions): RefreshTokens {
  const {
    issuer,
    store,
    signingKeys,
    organizations,
    minter,
    events,
    clockToleranceSeconds,
    retryGraceSeconds,
  } = options;

  function readToken(body: RequestLike['body']): string {
    const parsed = refreshRequestSchema.safeParse(parseJsonBody(body, 'invalid_request'));
    if (!parsed.success) {
      throw new RialtoError('invalid_request', 'The request body must contain a "refresh_token" string.');
    }
    return parsed.data.refresh_token;
  }

  async function verify(token: string, { allowExpired }: { allowExpired: boolean }): Promise<RefreshClaims> {
    const keys = await signingKeys.loadKnowing('refresh_token', kidOf(token));
    try {
      const { payload } = await jwtVerify(
        token,
        (header) => {
          const secret = header.kid === undefined ? undefined : keys.refreshSecretsByKid.get(header.kid);
          if (!secret) throw new joseErrors.JWKSNoMatchingKey();
          return secret;
        },
        {
          issuer,
          audience: issuer,
          algorithms: [REFRESH_TOKEN_ALGORITHM],
          clockTolerance: allowExpired ? Number.MAX_SAFE_INTEGER : clockToleranceSeconds,
          requiredClaims: ['jti', 'sub', 'exp'],
        },
      );
      if (typeof payload.fid !== 'string' || typeof payload.org_id !== 'string')
        throw new joseErrors.JWTInvalid();
      if (payload.client_id !== undefined && typeof payload.scope !== 'string')
        throw new joseErrors.JWTInvalid();
      if (payload.mapped_claims !== undefined && !isClaimSet(payload.mapped_claims))
        throw new joseErrors.JWTInvalid();
      if (payload.registration_id !== undefined && typeof payload.registration_id !== 'string')
        throw new joseErrors.JWTInvalid();
      return payload as unknown as RefreshClaims;
    } catch (error) {
      const description =
        error instanceof joseErrors.JWTExpired
          ? 'The refresh token has expired.'
          : 'The refresh token is not valid.';
      throw new RialtoError('invalid_grant', description, { cause: error });
    }
  }

  /**
   * Rotates a verified refresh token and answers the new pair. `family` is the OAuth grant the
   * token carries (the successor carries the same); `accessAudience` narrows the access token only.
   */
  async function rotate(
    claims: RefreshClaims,
    family: OAuthGrant | undefined,
    accessAudience: readonly string[] | undefined,
  ): Promise<TokenResponse> {
    // Before consuming: a suspension pauses sessions, and resuming the org brings them back.
    const orgNow = await organizations.get(claims.org_id);
    if (orgNow && orgNow.suspendedAt !== null) throw new RialtoError('organization_suspended');
    if (orgNow && hasEndedSessionsOf(orgNow, claims.registration_id)) throw endedSession();
    // A session started before its organization required DPoP is not bound: it pauses, unused, and
    // resumes if the requirement is lifted; the user exchanges again with a proof meanwhile.
    if (orgNow && family?.jkt === undefined) {
      refuseUnboundTokens(
        orgNow,
        'this refresh token was issued without a DPoP key; exchange the ID token again at POST /oauth/token with a DPoP proof',
      );
    }
    const now = epochSeconds();
    const audit = { orgId: claims.org_id, userId: claims.sub, familyId: claims.fid };
    const successor = await minter.successorOf(
      { familyId: claims.fid, orgId: claims.org_id, userId: claims.sub },
      now,
    );
    // The lookups run beside the rotation: if one fails after the rotation was written, the
    // client's retry is answered from the grace window.
    const [rotation, org, user] = await Promise.all([
      store.rotateRefreshToken({ jti: claims.jti, successor, now, graceSeconds: retryGraceSeconds }),
      organizations.get(claims.org_id),
      store.getUser(claims.org_id, claims.sub),
    ]);
    if (rotation.outcome === 'reused' || rotation.outcome === 'unknown') {
      // A genuine, unexpired token that is no longer live was used before (or its family was
      // revoked): treat it as stolen and end every session descended from it.
      await store.revokeRefreshTokenFamily(claims.fid, now);
      events.emit('refresh.reuse_detected', audit);
      throw new RialtoError(
        'invalid_grant',
        'The refresh token was already used; its session has been revoked.',
      );
    }
    if (!org || !user)
      throw new RialtoError('invalid_grant', 'The user of this refresh token no longer exists.');
    const carry = {
      grant: family,
      customClaims: claims.mapped_claims,
      registrationId: claims.registration_id,
    };
    const tokens = await minter.respond(org, user, rotation.successor, now, carry);
    events.emit('refresh.succeeded', audit);
    if (family === undefined || accessAudience === undefined) return tokens;
    if (accessAudience.length === family.audience.length) return tokens;
    // A narrower access token is signed again; the refresh token stays the family's.
    const narrowed = await minter.respond(org, user, rotation.successor, now, {
      ...carry,
      grant: { ...family, audience: accessAudience },
    });
    return { ...narrowed, refresh_token: tokens.refresh_token };
  }

  return {
    async refresh(body) {
      const claims = await verify(readToken(body), { allowExpired: false });
      if (claims.client_id !== undefined) {
        // This route has no client authentication: it must be no way around the token endpoint's.
        throw new RialtoError(
          'invalid_grant',
          'This refresh token was issued by the OAuth token endpoint; refresh it there, with client authentication.',
        );
      }
      return rotate(claims, undefined, undefined);
    },

    async refreshForClient(request) {
      const claims = await verify(request.refreshToken, { allowExpired: false });
      // Decided before anything is used, so the owner's token stays usable.
      if (claims.org_id !== request.orgId || claims.client_id !== request.orgId) {
        throw new RialtoError('invalid_grant', 'The refresh token was not issued to this client.');
      }
      const familyJkt = typeof claims.cnf?.jkt === 'string' ? claims.cnf.jkt : undefined;
      const proofJkt = await request.proofKey();
      if (familyJkt !== undefined && proofJkt !== familyJkt) {
        throw new OAuthError(
          'invalid_dpop_proof',
          proofJkt === undefined
            ? 'This refresh token is bound to a DPoP key: send a DPoP proof signed with it (RFC 9449 §5).'
            : 'The DPoP proof is not signed with the key this refresh token is bound to.',
        );
      }
      const familyAudience = audienceOfScope(claims.scope ?? '');
      const family: OAuthGrant = {
        audience: familyAudience,
        ...(familyJkt === undefined ? {} : { jkt: familyJkt }),
      };
      const narrowed = request.narrow(familyAudience);
      return rotate(claims, family, narrowed);
    },

    async revoke(body) {
      // The seed route answers 200 even when the keys cannot be loaded, as it always has.
      await revokeFamily(readToken(body), { reportsOutage: false, mayRevoke: () => true });
    },

    async inspect(token) {
      let claims: RefreshClaims;
      try {
        claims = await verify(token, { allowExpired: false });
      } catch (error) {
        if (error instanceof RialtoError && error.code === 'invalid_grant') return undefined;
        throw error;
      }
      const [isLive, org, user] = await Promise.all([
        store.isRefreshTokenLive({ jti: claims.jti, familyId: claims.fid, now: epochSeconds() }),
        organizations.get(claims.org_id),
        store.getUser(claims.org_id, claims.sub),
      ]);
      if (!isLive || !org || org.suspendedAt !== null || !user) return undefined;
      if (hasEndedSessionsOf(org, claims.registration_id)) return undefined;
      return { claims, org };
    },

    revokeOfOrganization: (token, orgId) =>
      revokeFamily(token, { reportsOutage: true, mayRevoke: (claims) => claims.org_id === orgId }),
  };

  async function revokeFamily(
    token: string,
    policy: { reportsOutage: boolean; mayRevoke(claims: RefreshClaims): boolean },
  ): Promise<boolean> {
    let claims: RefreshClaims;
    try {
      claims = await verify(token, { allowExpired: true });
    } catch (error) {
      // Keys that cannot be loaded are an outage (503), not an unknown token, where the caller can say so.
      const isOutage = !(error instanceof RialtoError && error.code === 'invalid_grant');
      if (isOutage && policy.reportsOutage) throw error;
      return false;
    }
    if (!policy.mayRevoke(claims)) return false;
    await store.revokeRefreshTokenFamily(claims.fid, epochSeconds());
    events.emit('refresh.revoked', { orgId: claims.org_id, userId: claims.sub, familyId: claims.fid });
    return true;
  }
}

function endedSession(): RialtoError {
  return new RialtoError(
    'invalid_grant',
    'The session of this refresh token was ended when its issuer registration was removed; exchange an ID token again.',
  );
}

function isClaimSet(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The audience names of a scope: its `aud:<name>` entries. */
export function audienceOfScope(scope: string): string[] {
  return scope
    .split(' ')
    .filter((entry) => entry.startsWith('aud:'))
    .map((entry) => entry.slice('aud:'.length));
}
