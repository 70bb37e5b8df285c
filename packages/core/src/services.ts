import { RialtoError } from './errors.js';
import { createExchangePipeline, type ExchangePipeline } from './exchange/pipeline.js';
import { createHealthChecks, type HealthChecks } from './health/health-summary.js';
import { type AdminAuth, createAdminAuth } from './http/admin-auth.js';
import { createDiscovery } from './issuers/discovery.js';
import { issuerAddressPolicy } from './issuers/issuer-address.js';
import { createCompiledPolicies } from './issuers/issuer-policies.js';
import { createIssuerRegistrations, type IssuerRegistrations } from './issuers/issuer-registrations.js';
import { createRemoteDocuments } from './issuers/remote-documents.js';
import { createRemoteJwks, type RemoteJwks } from './issuers/remote-jwks.js';
import { createSigningKeys, type SigningKeys } from './keys/signing-keys.js';
import { type AddressLimit, createAddressLimit } from './limits/address-limit.js';
import { limiterFor, refuseIfLimited } from './limits/rate-limit.js';
import { createSharedRateLimiter } from './limits/shared-rate-limiter.js';
import { createAudienceNarrowing } from './oauth/audience-narrowing.js';
import { createDpopProofVerifier, type DpopProofVerifier } from './oauth/dpop-proof.js';
import { createTokenEndpoint, type TokenEndpoint } from './oauth/token-endpoint.js';
import type { ResolvedRialtoExchangeOptions } from './options/options.js';
import { type ApiKeys, createApiKeys } from './organizations/api-keys.js';
import { createOrganizations, type Organizations } from './organizations/organizations.js';
import { createPolicyHookRunner } from './policy/policy-hook.js';
import type { Store } from './store/store.js';
import { createEvents, type RialtoEvents } from './telemetry/audit-events.js';
import {
  createPrometheusMetrics,
  type MetricsRecorder,
  type RateLimitScope,
  type RialtoMetrics,
} from './telemetry/prometheus-metrics.js';
import { createTelemetry, type Telemetry, tracedStore } from './telemetry/tracing.js';
import { createTokenMinter } from './tokens/mint-tokens.js';
import { createRefreshTokens, type RefreshTokens } from './tokens/refresh-tokens.js';
import { type AccessTokenVerifier, createAccessTokenVerifier } from './tokens/verify-access-token.js';
import { createUserLifecycle, type UserLifecycle } from './users/user-lifecycle.js';
import { createUserLookup, type UserLookup } from './users/user-lookup.js';
import { createUserRoles, type UserRoles } from './users/user-roles.js';
import { createUsers, type Users } from './users/users.js';
import { createDeliveryWorker, type DeliveryWorker } from './webhooks/delivery-worker.js';
import { createEventCatalogue, type EventCatalogue } from './webhooks/event-catalogue.js';
import { createWebhookSubscriptions, type WebhookSubscriptions } from './webhooks/webhook-subscriptions.js';

/** Everything the routes use, built once per exchange. */
export interface Services {
  options: ResolvedRialtoExchangeOptions;
  /** `options.store` with a span around every call. */
  store: Store;
  telemetry: Telemetry;
  /** The Prometheus metrics, when the `metrics` option enabled them. */
  metrics: RialtoMetrics | undefined;
  events: RialtoEvents;
  adminAuth: AdminAuth;
  apiKeys: ApiKeys;
  organizations: Organizations;
  issuers: IssuerRegistrations;
  signingKeys: SigningKeys;
  /** The exchange's steps and what they use: the exchange route runs them, the token debugger reports them. */
  exchange: ExchangePipeline;
  refreshTokens: RefreshTokens;
  /** `POST /oauth/token`, over `exchange` and `refreshTokens`. */
  tokenEndpoint: TokenEndpoint;
  /** DPoP proofs (RFC 9449), each `jti` used once across the fleet through the store. */
  dpop: DpopProofVerifier;
  accessTokens: AccessTokenVerifier;
  users: Users;
  userRoles: UserRoles;
  /** Cached users by id, for checks that must see deletions and demotions within the cache bound. */
  userLookup: UserLookup;
  userLifecycle: UserLifecycle;
  eventCatalogue: EventCatalogue;
  webhookSubscriptions: WebhookSubscriptions;
  deliveryWorker: DeliveryWorker;
  /** The IdP key-set cache, summarized (never named) for the admin view of readiness. */
  remoteJwks: Pick<RemoteJwks, 'summary'>;
  /** The store probe of readiness, and the health summary admins and the console read. */
  health: HealthChecks;
  /** The per-address limit: every request of the token routes, failed authentication elsewhere. */
  addressLimit: AddressLimit;
}

// Bounds on the in-process caches: far above real fleets, low enough to cap memory under attack.
const MAX_CACHED_ORGS = 10_000;
const MAX_CACHED_REMOTE_DOCUMENTS = 10_000;
const MAX_CACHED_USERS = 10_000;
// The readiness default, for the health summary when the health routes are turned off.
const DEFAULT_HEALTH_TIMEOUT_MS = 500;

export function createServices(options: ResolvedRialtoExchangeOptions): Services {
  const events = createEvents(options.logger);
  const prometheus =
    options.metrics === false ? undefined : createPrometheusMetrics(options.metrics, events, options.store);
  const telemetry = createTelemetry(prometheus?.recorder);
  const { metrics: recorder } = telemetry;
  const store = tracedStore(options.store, telemetry.tracer);
  const cacheLimits = { cacheTtlSeconds: options.lookupCacheTtlSeconds, maxCachedOrgs: MAX_CACHED_ORGS };
  const apiKeys = createApiKeys(store, events, cacheLimits);
  const issuers = createIssuerRegistrations(store, events, {
    ...cacheLimits,
    allowInsecureIssuers: options.allowInsecureIssuers,
    allowPrivateIssuers: options.allowPrivateIssuers,
    defaultEmailLinking: options.defaultEmailLinking,
    requireClientIds: options.requireClientIds,
    logger: options.logger,
  });
  const organizations = createOrganizations(store, events, issuers, {
    ...cacheLimits,
    // A refresh token begun with a removed registration lives at most its TTL after the last
    // rotation, and other instances may rotate one until their cached organization expires.
    endedRegistrationRetentionSeconds:
      options.refreshTokenTtlSeconds + 2 * options.lookupCacheTtlSeconds + options.clockToleranceSeconds,
  });
  const signingKeys = createSigningKeys({
    store,
    accessTokenAlgorithm: options.accessTokenAlgorithm,
    accessTokenKey: options.accessTokenKey,
    refreshTokenSecret: options.refreshTokenSecret,
    reloadIntervalSeconds: options.signingKeyReloadIntervalSeconds,
    prepublishSeconds: options.signingKeyPrepublishSeconds,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds,
    clockToleranceSeconds: options.clockToleranceSeconds,
    onLoad: recorder && ((outcome) => recorder.signingKeysReloaded(outcome)),
  });

  const remoteCachePolicy = {
    telemetry,
    cacheTtlSeconds: options.discoveryCacheTtlSeconds,
    staleIfErrorSeconds: options.staleIfErrorSeconds,
    failureBackoffSeconds: options.remoteFailureBackoffSeconds,
    maxEntries: MAX_CACHED_REMOTE_DOCUMENTS,
  };
  const documents = createRemoteDocuments({
    timeoutMs: options.fetchTimeoutMs,
    maxResponseBytes: options.maxRemoteDocumentBytes,
    sharedCache: options.sharedDocumentCache,
    sharedTtlMs: options.discoveryCacheTtlSeconds * 1000,
    addressPolicy: issuerAddressPolicy(options.allowPrivateIssuers),
    fetch: options.fetch,
  });
  // The request path keeps serving cached documents; the operator still hears that the IdP fails.
  const onRefreshFailure = (url: string, error: unknown) =>
    options.logger.warn(
      { url, reason: error instanceof Error ? error.message : String(error) },
      'refreshing an IdP document failed; the cached copy is still used',
    );
  const remoteJwks = createRemoteJwks({
    ...remoteCachePolicy,
    documents,
    refetchCooldownSeconds: options.unknownKidCooldownSeconds,
    sharedCache: options.sharedDocumentCache,
    onRefreshFailure,
  });
  const discovery = createDiscovery({
    ...remoteCachePolicy,
    documents,
    allowInsecureIssuers: options.allowInsecureIssuers,
    onRefreshFailure,
  });

  const minter = createTokenMinter({
    issuer: options.issuer,
    store,
    signingKeys,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds,
  });
  const { perOrganization } = options.rateLimit;
  const orgLimiter =
    perOrganization === false ? undefined : createSharedRateLimiter(perOrganization, store, options.logger);
  const orgRefused = refusedFor(recorder, 'organization');
  const userLookup = createUserLookup(store, {
    cacheTtlSeconds: options.lookupCacheTtlSeconds,
    maxCachedUsers: MAX_CACHED_USERS,
  });
  // Proofs of DPoP-bound tokens at the service's own routes and the host's (RFC 9449 §7).
  const dpop = createDpopProofVerifier({
    clockToleranceSeconds: options.clockToleranceSeconds,
    consumeOnce: (key, expiresAt, now) => store.consumeOnce(key, expiresAt, now),
  });
  const accessTokens = createAccessTokenVerifier({
    issuer: options.issuer,
    signingKeys,
    clockToleranceSeconds: options.clockToleranceSeconds,
    dpop,
    async checkStanding(claims) {
      const [org, user] = await Promise.all([
        organizations.get(claims.org_id),
        userLookup.get(claims.user_id),
      ]);
      if (!org || !user || user.orgId !== org.orgId) {
        throw new RialtoError(
          'invalid_access_token',
          'The user or organization of this access token no longer exists.',
        );
      }
      if (org.suspendedAt !== null) throw new RialtoError('organization_suspended');
    },
  });
  // Every route that takes an API key refuses a suspended organization's, after the key itself.
  const activeApiKeys: ApiKeys = {
    ...apiKeys,
    async authenticate(headerValue) {
      const orgId = await apiKeys.authenticate(headerValue);
      await organizations.requireActive(orgId);
      return orgId;
    },
  };
  const eventCatalogue = createEventCatalogue();
  const exchange = createExchangePipeline({
    store,
    apiKeys,
    organizations,
    issuers,
    discovery,
    remoteJwks,
    minter,
    events,
    tracer: telemetry.tracer,
    async admitOrganization(orgId) {
      if (orgLimiter) refuseIfLimited(await orgLimiter.take(`org:${orgId}`), 'this organization', orgRefused);
    },
    maxTokenBytes: options.maxTokenBytes,
    clockToleranceSeconds: options.clockToleranceSeconds,
    maxIdTokenLifetimeSeconds: options.maxIdTokenLifetimeSeconds,
    singleUseIdTokens: options.singleUseIdTokens,
    policies: createCompiledPolicies(MAX_CACHED_ORGS),
    runPolicyHook:
      options.exchangePolicyHook &&
      createPolicyHookRunner(options.exchangePolicyHook, { timeoutMs: options.exchangePolicyHookTimeoutMs }),
  });

  const refreshTokens = createRefreshTokens({
    issuer: options.issuer,
    store,
    signingKeys,
    organizations,
    minter,
    events,
    clockToleranceSeconds: options.clockToleranceSeconds,
    retryGraceSeconds: options.refreshTokenRetryGraceSeconds,
  });
  const tokenEndpoint = createTokenEndpoint({
    issuer: options.issuer,
    exchange,
    refreshTokens,
    apiKeys,
    narrowing: createAudienceNarrowing({ resourceAudiences: options.resourceAudiences }),
    dpop,
    maxBodyBytes: options.maxBodyBytes,
    requiresDpop: (org) => org.dpopBoundAccessTokens === true,
  });

  return {
    options,
    store,
    telemetry,
    metrics: prometheus?.metrics,
    events,
    adminAuth: createAdminAuth(options),
    apiKeys: activeApiKeys,
    organizations,
    issuers,
    signingKeys,
    exchange,
    refreshTokens,
    tokenEndpoint,
    dpop,
    accessTokens,
    userRoles: createUserRoles(store, events, userLookup),
    userLookup,
    userLifecycle: createUserLifecycle(store, events, userLookup),
    remoteJwks,
    health: createHealthChecks({
      store,
      remoteJwks,
      timeoutMs: options.health === false ? DEFAULT_HEALTH_TIMEOUT_MS : options.health.readyTimeoutMs,
    }),
    addressLimit: createAddressLimit(
      limiterFor(options.rateLimit.perIp),
      options.rateLimit.ipv6PrefixLength,
      refusedFor(recorder, 'client_address'),
    ),
    users: createUsers(store, events),
    eventCatalogue,
    webhookSubscriptions: createWebhookSubscriptions(store, eventCatalogue, options.webhooks),
    deliveryWorker: createDeliveryWorker({
      store,
      options: options.webhooks,
      logger: options.logger,
      onAttempt: recorder && ((outcome) => recorder.webhookAttempted(outcome)),
    }),
  };
}

/** The callback counting refusals by one limit, or none when metrics are off. */
export function refusedFor(
  recorder: MetricsRecorder | undefined,
  scope: RateLimitScope,
): (() => void) | undefined {
  return recorder && (() => recorder.rateLimited(scope));
}
