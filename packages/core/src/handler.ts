import { createApiKeyAuthenticator, generateApiKey } from './api-keys.js';
import { createDiscovery } from './discovery.js';
import { RialtoError, toRialtoError } from './errors.js';
import { createEvents, type RialtoEvents } from './events.js';
import { createTokenExchange, type ExchangeProgress } from './exchange-token.js';
import type { RequestLike, ResponseLike } from './http-types.js';
import { epochSeconds } from './internal/clock.js';
import {
  type AuthScheme,
  bearerToken,
  errorResponse,
  header,
  json,
  parseJsonBody,
  secretsEqual,
} from './internal/http.js';
import { createTokenMinter, type RialtoAccessTokenClaims } from './mint-tokens.js';
import { type ResolvedRialtoExchangeOptions, type RialtoExchangeOptions, resolveOptions } from './options.js';
import {
  audienceUpdateSchema,
  createOrganizations,
  type OrganizationRegistration,
  type Organizations,
  type RegisteredOrganization,
  registrationSchema,
} from './organizations.js';
import { createRateLimiter, type RateLimit, type RateLimiter } from './rate-limit.js';
import { createRefreshTokens } from './refresh-tokens.js';
import { createRemoteDocuments } from './remote-documents.js';
import { createRemoteJwks } from './remote-jwks.js';
import { createSigningKeys } from './signing-keys.js';
import type { UserRecord } from './store.js';
import { createAccessTokenVerifier, type VerifyAccessTokenOptions } from './verify-access-token.js';
import { createIdTokenVerifier } from './verify-id-token.js';

/** The exchange service: an HTTP-agnostic handler plus what host code needs beside it. */
export interface RialtoExchange {
  /**
   * Answers a request addressed to one of the exchange's routes.
   * @returns `null` when no route matches, so the host can pass the request on.
   */
  handle(request: RequestLike): Promise<ResponseLike | null>;
  /** Whether `handle` answers this path (for some method); cheap, so bindings can pass other requests on. */
  handlesPath(path: string): boolean;
  /**
   * Verifies an access token minted by this service, for guarding host routes.
   * @throws RialtoError `invalid_access_token` or `insufficient_claims`
   */
  verifyAccessToken(token: string, options?: VerifyAccessTokenOptions): Promise<RialtoAccessTokenClaims>;
  /**
   * Verifies the request's `Authorization: Bearer` access token.
   * @throws RialtoError `unauthorized` (no bearer token), `invalid_access_token` or `insufficient_claims`
   */
  authenticateBearer(
    headers: RequestLike['headers'],
    options?: VerifyAccessTokenOptions,
  ): Promise<{ claims: RialtoAccessTokenClaims; token: string }>;
  /** Turns any error into the JSON error response; unknown errors become `server_error`. */
  errorResponse(error: unknown, scheme?: AuthScheme): ResponseLike;
  /** Subscribe to audit events: `exchange.on('exchange.failed', ({ code, orgId }) => …)`. */
  on: RialtoEvents['on'];
  /** Registers an organization from host code (scripts, seeding), as the admin route does. */
  registerOrganization(input: OrganizationRegistration): Promise<RegisteredOrganization>;
  readonly options: ResolvedRialtoExchangeOptions;
}

interface Route {
  method: string;
  pattern: RegExp;
  scheme: AuthScheme;
  run(request: RequestLike, params: string[]): Promise<ResponseLike>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Builds the exchange: verifiers, caches and routes are created once here; per request only
 * `handle` runs.
 *
 * @example
 * const exchange = createRialtoExchange({ issuer: 'https://api.example.com', store: memoryStore() });
 * const response = await exchange.handle({ method: 'GET', path: '/.well-known/jwks.json', headers: {} });
 */
export function createRialtoExchange(input: RialtoExchangeOptions): RialtoExchange {
  const options = resolveOptions(input);
  const { store, logger } = options;
  const cacheLimits = { cacheTtlSeconds: options.lookupCacheTtlSeconds, maxCachedOrgs: 10_000 };
  const fetchLimits = { timeoutMs: options.fetchTimeoutMs, maxResponseBytes: options.maxRemoteDocumentBytes };

  const events = createEvents(logger);
  const apiKeys = createApiKeyAuthenticator(store, cacheLimits);
  const ipLimiter = limiterFor(options.rateLimit.perIp);
  const orgLimiter = limiterFor(options.rateLimit.perOrganization);
  const organizations: Organizations = createOrganizations(store, {
    ...cacheLimits,
    allowInsecureIssuers: options.allowInsecureIssuers,
    defaultEmailLinking: options.defaultEmailLinking,
  });
  const signingKeys = createSigningKeys({
    store,
    accessTokenAlgorithm: options.accessTokenAlgorithm,
    accessTokenKey: options.accessTokenKey,
    refreshTokenSecret: options.refreshTokenSecret,
    reloadIntervalSeconds: options.keyReloadIntervalSeconds,
  });
  const remoteCachePolicy = {
    cacheTtlSeconds: options.discoveryCacheTtlSeconds,
    staleIfErrorSeconds: options.staleIfErrorSeconds,
    failureBackoffSeconds: options.remoteFailureBackoffSeconds,
    maxEntries: 10_000,
  };
  const documents = createRemoteDocuments({
    ...fetchLimits,
    sharedCache: options.sharedDocumentCache,
    sharedTtlMs: options.discoveryCacheTtlSeconds * 1000,
  });
  const idTokens = createIdTokenVerifier({
    discovery: createDiscovery({
      ...remoteCachePolicy,
      documents,
      allowInsecureIssuers: options.allowInsecureIssuers,
    }),
    remoteJwks: createRemoteJwks({
      ...remoteCachePolicy,
      documents,
      refetchCooldownSeconds: options.unknownKidCooldownSeconds,
    }),
    clockToleranceSeconds: options.clockToleranceSeconds,
    maxLifetimeSeconds: options.maxIdTokenLifetimeSeconds,
  });
  const minter = createTokenMinter({
    issuer: options.issuer,
    store,
    signingKeys,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds,
  });
  const tokenExchange = createTokenExchange({
    store,
    apiKeys,
    organizations,
    idTokens,
    minter,
    maxTokenBytes: options.maxTokenBytes,
    admitOrganization: (orgId) => admit(orgLimiter, orgId, 'this organization'),
  });
  const refreshTokens = createRefreshTokens({
    issuer: options.issuer,
    store,
    signingKeys,
    organizations,
    minter,
    events,
    clockToleranceSeconds: options.clockToleranceSeconds,
  });
  const accessTokens = createAccessTokenVerifier({
    issuer: options.issuer,
    signingKeys,
    clockToleranceSeconds: options.clockToleranceSeconds,
  });
  const isAdminConfigured = options.adminToken !== undefined || options.authorizeAdmin !== undefined;

  function admitClient(request: RequestLike): void {
    if (request.ip !== undefined) admit(ipLimiter, request.ip, 'this client address');
  }

  async function isAdmin(request: RequestLike): Promise<boolean> {
    const token = bearerToken(request.headers);
    if (options.adminToken !== undefined && token !== undefined && secretsEqual(token, options.adminToken))
      return true;
    return options.authorizeAdmin ? (await options.authorizeAdmin(request)) === true : false;
  }

  async function requireAdmin(request: RequestLike): Promise<void> {
    if (!(await isAdmin(request))) throw new RialtoError('unauthorized', 'Admin credentials are required.');
  }

  async function authenticateBearer(
    headers: RequestLike['headers'],
    verifyOptions?: VerifyAccessTokenOptions,
  ) {
    const token = bearerToken(headers);
    if (token === undefined) throw new RialtoError('unauthorized', 'A Bearer access token is required.');
    return { claims: await accessTokens.verify(token, verifyOptions), token };
  }

  const routes: Route[] = [
    {
      method: 'POST',
      pattern: /^\/identity\/auth\/exchange$/,
      scheme: 'api_key',
      async run(request) {
        admitClient(request);
        const progress: ExchangeProgress = {};
        try {
          const { tokens, org, provisioned } = await tokenExchange.exchange(
            header(request, 'x-api-key'),
            request.body,
            progress,
          );
          const { userId } = provisioned.user;
          if (provisioned.created) events.emit('user.created', { orgId: org.orgId, userId });
          events.emit('exchange.succeeded', {
            orgId: org.orgId,
            userId,
            issuer: org.issuer,
            userCreated: provisioned.created,
          });
          return json(200, tokens);
        } catch (error) {
          const { code, status } = toRialtoError(error);
          events.emit('exchange.failed', { code, status, ...progress });
          throw error;
        }
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/auth\/refresh$/,
      scheme: 'none',
      async run(request) {
        admitClient(request);
        return json(200, await refreshTokens.refresh(request.body));
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/auth\/revoke$/,
      scheme: 'none',
      async run(request) {
        admitClient(request);
        await refreshTokens.revoke(request.body);
        return json(200, {});
      },
    },
    {
      method: 'GET',
      pattern: /^\/identity\/users\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [userId]) {
        const { claims } = await authenticateBearer(request.headers);
        const user = UUID.test(userId as string)
          ? await store.getUser(claims.org_id, userId as string)
          : null;
        if (!user) throw new RialtoError('not_found', 'No such user in your organization.');
        return json(200, userJson(user));
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/identity\/auth\/idp\/([^/]+)$/,
      scheme: 'api_key',
      async run(request, [orgId]) {
        if (header(request, 'x-api-key') !== undefined) {
          if ((await apiKeys.authenticate(header(request, 'x-api-key'))) !== orgId)
            throw new RialtoError('org_mismatch');
        } else if (!(await isAdmin(request))) {
          throw header(request, 'authorization') === undefined
            ? new RialtoError('missing_api_key', 'The X-API-Key header or admin credentials are required.')
            : new RialtoError('unauthorized', 'Admin credentials are not valid.');
        }
        const parsed = audienceUpdateSchema.safeParse(parseJsonBody(request.body, 'invalid_request'));
        if (!parsed.success) throw invalidRequest(parsed.error.issues);
        const org = UUID.test(orgId as string)
          ? await organizations.setAudience(orgId as string, parsed.data.audience)
          : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        events.emit('organization.audience_updated', { orgId: org.orgId, audience: org.audience });
        return json(200, { org_id: org.orgId, audience: org.audience });
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/organizations$/,
      scheme: 'bearer',
      async run(request) {
        if (!isAdminConfigured) throw new RialtoError('not_found');
        await requireAdmin(request);
        const parsed = registrationSchema.safeParse(parseJsonBody(request.body, 'invalid_request'));
        if (!parsed.success) throw invalidRequest(parsed.error.issues);
        const registered = await registerOrganization(parsed.data);
        return json(201, organizationJson(registered));
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/organizations\/([^/]+)\/api-keys$/,
      scheme: 'bearer',
      async run(request, [orgId]) {
        if (!isAdminConfigured) throw new RialtoError('not_found');
        await requireAdmin(request);
        const org = UUID.test(orgId as string) ? await organizations.get(orgId as string) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        const now = epochSeconds();
        const { apiKey, record } = generateApiKey(org.orgId, now);
        await store.addApiKey(record);
        apiKeys.forget(org.orgId);
        events.emit('api_key.created', { orgId: org.orgId, keyId: record.keyId });
        return json(201, {
          org_id: org.orgId,
          api_key: apiKey,
          api_key_id: record.keyId,
          created_at: new Date(now * 1000).toISOString(),
        });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/identity\/organizations\/([^/]+)\/api-keys\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [orgId, keyId]) {
        if (!isAdminConfigured) throw new RialtoError('not_found');
        await requireAdmin(request);
        const revoked =
          UUID.test(orgId as string) && UUID.test(keyId as string)
            ? await store.revokeApiKey(orgId as string, keyId as string, epochSeconds())
            : false;
        if (!revoked) throw new RialtoError('not_found', 'No such active API key in this organization.');
        apiKeys.forget(orgId as string);
        events.emit('api_key.revoked', { orgId: orgId as string, keyId: keyId as string });
        return json(200, { org_id: orgId, api_key_id: keyId, revoked: true });
      },
    },
    {
      method: 'GET',
      pattern: /^\/\.well-known\/jwks\.json$/,
      scheme: 'none',
      async run() {
        const keys = await signingKeys.load();
        return json(200, keys.publicJwks, { 'cache-control': 'public, max-age=300' });
      },
    },
    {
      method: 'GET',
      pattern: /^\/\.well-known\/openid-configuration$/,
      scheme: 'none',
      async run() {
        return json(
          200,
          {
            issuer: options.issuer,
            jwks_uri: `${options.issuer}/.well-known/jwks.json`,
            scopes_supported: ['openid', 'email', 'profile'],
            access_token_signing_alg_values_supported: [options.accessTokenAlgorithm],
          },
          { 'cache-control': 'public, max-age=300' },
        );
      },
    },
  ];

  async function registerOrganization(
    registration: OrganizationRegistration,
  ): Promise<RegisteredOrganization> {
    const registered = await organizations.register(registration);
    const { orgId, name, issuer } = registered.organization;
    events.emit('organization.created', { orgId, name, issuer });
    events.emit('api_key.created', { orgId, keyId: registered.apiKeyId });
    return registered;
  }

  function findRoutes(path: string): Array<{ route: Route; params: string[] }> {
    const found: Array<{ route: Route; params: string[] }> = [];
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (match) found.push({ route, params: match.slice(1).map(decodePathSegment) });
    }
    return found;
  }

  function respondWithError(error: unknown, scheme: AuthScheme = 'none'): ResponseLike {
    const rialtoError = toRialtoError(error);
    if (rialtoError.status >= 500) {
      logger.error(
        { err: rialtoError.cause ?? rialtoError, code: rialtoError.code },
        'rialto-exchange request failed',
      );
    } else if (rialtoError.code === 'discovery_failed') {
      logger.warn({ err: rialtoError.cause, code: rialtoError.code }, 'identity provider unreachable');
    }
    return errorResponse(rialtoError, scheme);
  }

  return {
    options,
    handlesPath(path) {
      return routes.some((route) => route.pattern.test(path));
    },
    async handle(request) {
      const candidates = findRoutes(request.path);
      if (candidates.length === 0) return null;
      const selected = candidates.find(({ route }) => route.method === request.method);
      if (!selected) {
        const allow = candidates.map(({ route }) => route.method).join(', ');
        return respondWithError(new RialtoError('method_not_allowed', undefined, { headers: { allow } }));
      }
      try {
        return await selected.route.run(request, selected.params);
      } catch (error) {
        return respondWithError(error, selected.route.scheme);
      }
    },
    verifyAccessToken: (token, verifyOptions) => accessTokens.verify(token, verifyOptions),
    authenticateBearer,
    errorResponse: respondWithError,
    on: events.on,
    registerOrganization: (registration) => registerOrganization(registrationSchema.parse(registration)),
  };
}

function limiterFor(rate: RateLimit | false): RateLimiter | undefined {
  return rate === false ? undefined : createRateLimiter(rate);
}

function admit(limiter: RateLimiter | undefined, key: string, who: string): void {
  const retryAfterSeconds = limiter?.take(key) ?? 0;
  if (retryAfterSeconds > 0) {
    throw new RialtoError('rate_limited', `Too many requests from ${who}. Retry in ${retryAfterSeconds} s.`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function invalidRequest(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): RialtoError {
  const first = issues[0];
  const where = first && first.path.length > 0 ? `${first.path.map(String).join('.')}: ` : '';
  return new RialtoError('invalid_request', `${where}${first?.message ?? 'invalid body'}`);
}

function userJson(user: UserRecord) {
  return {
    user_id: user.userId,
    org_id: user.orgId,
    email: user.email,
    onboarding_completed: user.onboardingCompleted,
    kyc_completed: user.kycCompleted,
    accredited: user.accredited,
    accreditation_verified: user.accreditationVerified,
    created_at: new Date(user.createdAt * 1000).toISOString(),
    updated_at: new Date(user.updatedAt * 1000).toISOString(),
  };
}

function organizationJson({ organization, apiKey, apiKeyId }: RegisteredOrganization) {
  return {
    org_id: organization.orgId,
    name: organization.name,
    issuer: organization.issuer,
    audience: organization.audience,
    client_ids: organization.clientIds,
    allowed_algorithms: organization.allowedAlgorithms,
    email_linking: organization.emailLinking,
    api_key: apiKey,
    api_key_id: apiKeyId,
    created_at: new Date(organization.createdAt * 1000).toISOString(),
  };
}
