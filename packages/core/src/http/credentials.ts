import { RialtoError, type RialtoErrorCode } from '../errors.js';
import { type AddressLimit, isFailedAuthentication } from '../limits/address-limit.js';
import { serviceUrl } from '../oauth/endpoints.js';
import type { ApiKeys } from '../organizations/api-keys.js';
import type { RialtoAccessTokenClaims } from '../tokens/mint-tokens.js';
import type { AccessTokenVerifier } from '../tokens/verify-access-token.js';
import type { UserLookup } from '../users/user-lookup.js';
import type { AdminAuth } from './admin-auth.js';
import type { RequestLike } from './http-types.js';
import { type AuthScheme, header } from './messages.js';

/**
 * A credential a route accepts. A route lists every one it takes; the route table checks them before
 * the route runs, in this order: the `X-API-Key` header, admin credentials, an access token.
 * - `apiKey`: the organization's `X-API-Key` (the partner's backend), of an active organization.
 * - `adminToken`: the service admin (`adminToken` or `authorizeAdmin`). A route taking only this
 *   answers 404 while neither is configured, as if it did not exist.
 * - `accessToken`: an access token of this service, of any user of an active organization.
 * - `orgAdminToken`: the same, of an org admin (the role read from the store, not the claim).
 * - `anonymous`: no credential at all; beside others it makes them optional (the readiness probe:
 *   admins get more), and a credential that fails then counts as none.
 */
export type Credential = 'apiKey' | 'adminToken' | 'accessToken' | 'orgAdminToken' | 'anonymous';

/** The service admin. */
export interface AdminCaller {
  kind: 'admin';
}

/** An organization's `X-API-Key`: the partner's backend, which acts on the whole organization. */
export interface ApiKeyCaller {
  kind: 'api_key';
  orgId: string;
}

/** An access token of one of the org's users; `isOrgAdmin` was checked against the store. */
export interface UserCaller {
  kind: 'user';
  orgId: string;
  userId: string;
  isOrgAdmin: boolean;
  claims: RialtoAccessTokenClaims;
}

/** No credential (the route admits anonymous callers). */
export interface AnonymousCaller {
  kind: 'anonymous';
}

export type Caller = AdminCaller | ApiKeyCaller | UserCaller | AnonymousCaller;

/** The caller a route receives, from the credentials it accepts. */
export type CallerFor<C extends Credential> = C extends 'adminToken'
  ? AdminCaller
  : C extends 'apiKey'
    ? ApiKeyCaller
    : C extends 'accessToken'
      ? UserCaller
      : C extends 'orgAdminToken'
        ? UserCaller & { isOrgAdmin: true }
        : AnonymousCaller;

/** What checking credentials uses; all of it built once per exchange. */
export interface CredentialServices {
  adminAuth: AdminAuth;
  /** Authenticates keys of active organizations only. */
  apiKeys: Pick<ApiKeys, 'authenticate'>;
  /** Verifies access tokens of existing users of active organizations only, DPoP-bound ones with their proof. */
  accessTokens: Pick<AccessTokenVerifier, 'authenticate'>;
  /** The issuer, which includes the mount path: a DPoP proof names the route's URL under it. */
  options: { issuer: string };
  /** Cached users: how long a role is trusted before the store is asked again bounds a demotion's delay. */
  userLookup: Pick<UserLookup, 'get'>;
  /** Spent by each failed authentication; none, no limit. */
  addressLimit?: Pick<AddressLimit, 'refuseIfSpent' | 'isSpent' | 'countFailure'>;
}

/** Authenticates a request against the credentials of one route. */
export type CredentialCheck = (request: RequestLike) => Promise<Caller>;

/** The OpenAPI security scheme each credential is presented as (`#/components/securitySchemes`). */
export type SecurityScheme = 'apiKey' | 'adminToken' | 'accessToken';

const SECURITY_SCHEMES: Record<Credential, SecurityScheme | undefined> = {
  apiKey: 'apiKey',
  adminToken: 'adminToken',
  accessToken: 'accessToken',
  orgAdminToken: 'accessToken',
  anonymous: undefined,
};

// What presenting each credential may answer, whichever route it is presented to.
// `rate_limited`: the address spent its per-address budget, on failed authentication or exchanges.
const CREDENTIAL_ERRORS: Record<Credential, RialtoErrorCode[]> = {
  apiKey: ['invalid_api_key', 'organization_suspended', 'rate_limited'],
  accessToken: [
    'unauthorized',
    'invalid_access_token',
    'invalid_dpop_proof',
    'organization_suspended',
    'rate_limited',
  ],
  orgAdminToken: [
    'unauthorized',
    'invalid_access_token',
    'invalid_dpop_proof',
    'organization_suspended',
    'rate_limited',
  ],
  adminToken: ['unauthorized', 'rate_limited'],
  anonymous: [],
};

const ADMIN: AdminCaller = Object.freeze({ kind: 'admin' });
const ANONYMOUS: AnonymousCaller = Object.freeze({ kind: 'anonymous' });

/** What one route's list of credentials means; worked out once per route. */
interface Accepted {
  takesApiKey: boolean;
  takesAdmin: boolean;
  /** Which access tokens the route takes: any user's, only an org admin's, or none. */
  userTokens: 'any' | 'org_admin' | undefined;
  isOptional: boolean;
  isAdminOnly: boolean;
  /**
   * The credential a caller is expected to send, which names the error for none and the challenge
   * of a 401: the API key where the route serves partners' backends and no user, else a bearer token.
   */
  expected: AuthScheme;
  /** Says what to send, for a request that presents none of the credentials. */
  missingDescription: string;
}

function accepted(credentials: readonly Credential[]): Accepted {
  const takes = new Set(credentials);
  const takesApiKey = takes.has('apiKey');
  const takesAdmin = takes.has('adminToken');
  const userTokens = takes.has('accessToken') ? 'any' : takes.has('orgAdminToken') ? 'org_admin' : undefined;
  const wanted = [
    takesApiKey ? { name: "the organization's X-API-Key header", isPlural: false } : undefined,
    takesAdmin ? { name: 'admin credentials', isPlural: true } : undefined,
    userTokens ? { name: 'a Bearer access token', isPlural: false } : undefined,
  ].filter((noun) => noun !== undefined);
  const phrase = wanted.map(({ name }) => name).join(' or ');
  return {
    takesApiKey,
    takesAdmin,
    userTokens,
    isOptional: takes.has('anonymous'),
    isAdminOnly: takesAdmin && !takesApiKey && userTokens === undefined,
    expected:
      takesApiKey && userTokens === undefined
        ? 'api_key'
        : takesAdmin || userTokens !== undefined
          ? 'bearer'
          : 'none',
    missingDescription: `${phrase.charAt(0).toUpperCase()}${phrase.slice(1)} ${wanted.at(-1)?.isPlural ? 'are' : 'is'} required.`,
  };
}

/** The challenge a route's 401s carry (`WWW-Authenticate`). */
export function challengeFor(credentials: readonly Credential[]): AuthScheme {
  return accepted(credentials).expected;
}

/**
 * What the OpenAPI document says a route takes: one security requirement per credential (org admin
 * tokens are access tokens there), `{}` when anonymous callers are admitted too; `[]` for public routes.
 */
export function securityRequirements(credentials: readonly Credential[]): Array<Record<string, []>> {
  const schemes = credentials.map((credential) => SECURITY_SCHEMES[credential]);
  const requirements = [...new Set(schemes)].filter((scheme) => scheme !== undefined);
  if (requirements.length === 0) return [];
  return [
    ...requirements.map((scheme) => ({ [scheme]: [] as [] })),
    ...(credentials.includes('anonymous') ? [{}] : []),
  ];
}

/**
 * The errors checking these credentials may answer, for the OpenAPI document: none when they are
 * optional (a failed one counts as none). A route binding `{org_id}` adds `org_mismatch`.
 */
export function credentialErrors(
  credentials: readonly Credential[],
  bindsOrganization: boolean,
): RialtoErrorCode[] {
  const route = accepted(credentials);
  if (route.isOptional || credentials.length === 0) return [];
  const isOrgBound = route.takesApiKey || route.userTokens !== undefined;
  return [
    ...(route.userTokens === 'org_admin' ? (['insufficient_role'] as const) : []),
    ...(route.expected === 'api_key' ? (['missing_api_key'] as const) : []),
    ...(route.isAdminOnly ? (['not_found'] as const) : []),
    // Every bearer credential's list names `unauthorized`, its answer when none is presented.
    ...credentials.flatMap((credential) => CREDENTIAL_ERRORS[credential]),
    ...(bindsOrganization && isOrgBound ? (['org_mismatch'] as const) : []),
  ];
}

/**
 * Builds the check of one route's credentials, or `undefined` for a public route (nothing to check,
 * no promise on its path).
 * @throws TypeError when `anonymous` stands alone (a public route lists no credential)
 */
export function createCredentialCheck(
  credentials: readonly Credential[],
  services: CredentialServices,
): CredentialCheck | undefined {
  if (credentials.length === 0) return undefined;
  const route = accepted(credentials);
  if (route.isOptional && credentials.length === 1) {
    throw new TypeError('a route taking no credential lists none, rather than only "anonymous"');
  }
  const { adminAuth, apiKeys, accessTokens, userLookup, addressLimit } = services;
  const { issuer } = services.options;
  const missingCode = route.expected === 'api_key' ? 'missing_api_key' : 'unauthorized';

  async function userCaller(request: RequestLike): Promise<UserCaller> {
    const { claims } = await accessTokens.authenticate({
      method: request.method,
      url: serviceUrl(issuer, request.path),
      headers: request.headers,
    });
    // The claim alone is not trusted: a demoted admin's token lives until it expires. Plain users'
    // tokens need no store read here.
    let isOrgAdmin = false;
    if (claims.org_role === 'org_admin') {
      const user = await userLookup.get(claims.user_id);
      isOrgAdmin = user !== null && user.orgId === claims.org_id && user.role === 'org_admin';
    }
    if (route.userTokens === 'org_admin' && !isOrgAdmin) throw new RialtoError('insufficient_role');
    return { kind: 'user', orgId: claims.org_id, userId: claims.user_id, isOrgAdmin, claims };
  }

  async function authenticate(request: RequestLike): Promise<Caller> {
    // Admin routes do not exist while no admin credential is configured.
    if (route.isAdminOnly && !adminAuth.isConfigured) throw new RialtoError('not_found');
    if (route.takesApiKey) {
      // A key presented decides, whatever else the request carries.
      const apiKey = header(request, 'x-api-key');
      if (apiKey !== undefined) return { kind: 'api_key', orgId: await apiKeys.authenticate(apiKey) };
    }
    if (route.takesAdmin && (await adminAuth.isAdmin(request))) return ADMIN;
    const hasAuthorization = header(request, 'authorization') !== undefined;
    if (route.userTokens !== undefined && hasAuthorization) return userCaller(request);
    if (route.takesAdmin && hasAuthorization) {
      throw new RialtoError('unauthorized', 'Admin credentials are not valid.');
    }
    throw new RialtoError(missingCode, route.missingDescription);
  }

  // A credential presented and refused spends the address's budget (a request presenting none is
  // no guess); a spent budget is refused before any credential is looked at, so a right guess is
  // not recognised once the limit is reached.
  async function authenticateCounted(request: RequestLike): Promise<Caller> {
    try {
      return await authenticate(request);
    } catch (error) {
      const presented =
        header(request, 'x-api-key') !== undefined || header(request, 'authorization') !== undefined;
      if (presented && error instanceof RialtoError && isFailedAuthentication(error.code)) {
        addressLimit?.countFailure(request);
      }
      throw error;
    }
  }

  if (!route.isOptional) {
    if (addressLimit === undefined) return authenticate;
    return (request) => {
      addressLimit.refuseIfSpent(request);
      return authenticateCounted(request);
    };
  }
  return async function authenticateIfPresent(request) {
    // Anonymous callers stay welcome (a load balancer's probe); a spent address's credentials are
    // not looked at, so they cannot be guessed through this route either.
    if (addressLimit?.isSpent(request)) return ANONYMOUS;
    try {
      return await authenticateCounted(request);
    } catch {
      return ANONYMOUS;
    }
  };
}

/**
 * Refuses a caller bound to another organization than the one the route acts on (`{org_id}`): an
 * organization's key or token never acts on another.
 * @throws RialtoError `org_mismatch`
 */
export function requireSameOrganization(caller: Caller, orgId: string): void {
  if ((caller.kind === 'api_key' || caller.kind === 'user') && caller.orgId !== orgId) {
    throw new RialtoError('org_mismatch');
  }
}
