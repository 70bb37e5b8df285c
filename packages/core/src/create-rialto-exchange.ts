import type { Span } from '@opentelemetry/api';
import { RialtoError, toRialtoError } from './errors.js';
import type { RialtoApiKeys } from './facade/api-keys.js';
import type { RialtoConsoleSessions } from './facade/console-sessions.js';
import type { RialtoHealth } from './facade/health.js';
import { createFacadeGroups } from './facade/index.js';
import type { RialtoIssuers } from './facade/issuers.js';
import type { RialtoOperators } from './facade/operators.js';
import type { RialtoOrganizations } from './facade/organizations.js';
import type { RialtoKeys } from './facade/signing-keys.js';
import type { RialtoUsers } from './facade/users.js';
import type { RialtoWebhooks } from './facade/webhooks.js';
import type { RequestLike, ResponseLike } from './http/http-types.js';
import { type AuthScheme, errorResponse, json } from './http/messages.js';
import { createRouteTable, type RouteMatch } from './http/route-table.js';
import { adminRoutes } from './http/routes/admin-routes.js';
import { healthRoutes } from './http/routes/health-routes.js';
import { oauthRoutes } from './http/routes/oauth-routes.js';
import { openApiRoutes } from './http/routes/openapi-routes.js';
import { operatorRoutes } from './http/routes/operator-routes.js';
import { tokenRoutes } from './http/routes/token-routes.js';
import { userRoutes } from './http/routes/user-routes.js';
import { webhookRoutes } from './http/routes/webhook-routes.js';
import { wellKnownRoutes } from './http/routes/well-known-routes.js';
import { validateInput } from './internal/validate-input.js';
import { type IssuerRegistrationInput, issuerRegistrationSchema } from './issuers/issuer-registrations.js';
import type { RotatedKey } from './keys/signing-keys.js';
import { authorizationServerMetadata, authorizationServerMetadataLocation } from './oauth/metadata.js';
import { OAuthError } from './oauth/oauth-error.js';
import { type ProtectedRequest, readPresentedAccessToken } from './oauth/protected-request.js';
import {
  type ResolvedRialtoExchangeOptions,
  type RialtoExchangeOptions,
  resolveOptions,
} from './options/options.js';
import type { GeneratedApiKey } from './organizations/api-keys.js';
import {
  type OrganizationRegistration,
  type Organizations,
  type RegisteredOrganization,
  registrationSchema,
} from './organizations/organizations.js';
import { createServices } from './services.js';
import type { IssuerRegistrationRecord, SigningKeyUse } from './store/store.js';
import type { RialtoEvents } from './telemetry/audit-events.js';
import type { RialtoMetrics } from './telemetry/prometheus-metrics.js';
import { inActiveSpan, markFailed } from './telemetry/tracing.js';
import type { RialtoAccessTokenClaims } from './tokens/mint-tokens.js';
import type { VerifyAccessTokenOptions } from './tokens/verify-access-token.js';
import type { UserLifecycle } from './users/user-lifecycle.js';
import type { UserRoles } from './users/user-roles.js';

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
   * Verifies the request's `Authorization: Bearer` access token. A DPoP-bound token is refused here
   * (it needs its proof, which names the request's URL): use `authenticateRequest` for those.
   * @throws RialtoError `unauthorized` (no bearer token), `invalid_access_token` or `insufficient_claims`
   */
  authenticateBearer(
    headers: RequestLike['headers'],
    options?: VerifyAccessTokenOptions,
  ): Promise<{ claims: RialtoAccessTokenClaims; token: string }>;
  /**
   * Verifies the access token of a request to one of the host's protected resources: an unbound
   * token as `Authorization: Bearer`, a DPoP-bound one (`cnf.jkt`) as `Authorization: DPoP` with a
   * `DPoP` proof of its key for this very request (RFC 9449 §7). Each proof's `jti` is spent in the
   * store, so a replay fails on every instance sharing it.
   * @param request `url` is the resource's published URL, which the proof's `htu` must name: build it
   * from configuration and the request's path, never from the `Host` header
   * @throws RialtoError `unauthorized` (no access token), `invalid_access_token`, `invalid_dpop_proof`
   * or `insufficient_claims`; a 401 carries the challenge of the scheme the token needs
   */
  authenticateRequest(
    request: ProtectedRequest,
    options?: VerifyAccessTokenOptions,
  ): Promise<{ claims: RialtoAccessTokenClaims; token: string }>;
  /**
   * The RFC 8414 metadata and where it belongs. The router serves it at
   * `/.well-known/oauth-authorization-server` under its mount path, which is right for an issuer
   * without a path; for an issuer with one (`https://api.example.com/auth`), RFC 8414 §3.1 puts it
   * at the host's root, `/.well-known/oauth-authorization-server/auth`: answer `path` there with
   * `response()` (Express: `rialtoAuthorizationServerMetadataHandler`).
   */
  readonly authorizationServerMetadata: { path: string; url: string; response(): ResponseLike };
  /** Turns any error into the JSON error response; unknown errors become `server_error`. */
  errorResponse(error: unknown, scheme?: AuthScheme): ResponseLike;
  /**
   * In-process audit events, for logs and SIEM: `exchange.audit.on('exchange.failed', ({ code, orgId }) => …)`.
   * Handlers run in this process only and nothing is stored; for events partners receive, see `webhooks`.
   */
  readonly audit: Pick<RialtoEvents, 'on'>;
  /** Partner organizations: register, suspend and resume, provisioning mode, audiences, removal. */
  readonly organizations: RialtoOrganizations;
  /** Organizations' API keys: issue another (rotation), revoke. */
  readonly apiKeys: RialtoApiKeys;
  /** The identity providers each organization trusts. */
  readonly issuers: RialtoIssuers;
  /** An organization's users: create, read, verification state, role, erasure. */
  readonly users: RialtoUsers;
  /** The service's own signing keys. */
  readonly keys: RialtoKeys;
  /** Durable, org-scoped webhook events that partners subscribe to, and their delivery worker. */
  readonly webhooks: RialtoWebhooks;
  /** The store, the IdP key-set cache and the webhook outbox at a glance. */
  readonly health: RialtoHealth;
  /** Sessions of the admin console, kept in the store so that signing out ends them everywhere. */
  readonly consoleSessions: RialtoConsoleSessions;
  /** What an operator's tool (the admin console) needs beside the other groups: admin sign-in, keys, webhooks, the token debugger. */
  readonly operators: RialtoOperators;
  /**
   * The Prometheus metrics when the `metrics` option enabled them, else `undefined`. Serve
   * `scrape()` with `contentType` where your Prometheus reaches it (Express: `rialtoMetricsHandler`).
   */
  readonly metrics: RialtoMetrics | undefined;
  /** Stops the background delivery worker and waits for a pass in progress. */
  close(): Promise<void>;
  readonly options: ResolvedRialtoExchangeOptions;
  /** @deprecated Use `exchange.organizations.register`. */
  registerOrganization(input: OrganizationRegistration): Promise<RegisteredOrganization>;
  /**
   * @deprecated Use `exchange.organizations.suspend` or `exchange.organizations.resume`, which throw
   * `not_found` where this returns `null`.
   */
  setOrganizationSuspended: Organizations['setSuspended'];
  /** @deprecated Use `exchange.organizations.setProvisioning`, which throws `not_found` where this returns `null`. */
  setOrganizationProvisioning: Organizations['setProvisioning'];
  /** @deprecated Use `exchange.organizations.remove`, which throws `not_found` where this returns `false`. */
  deleteOrganization: Organizations['remove'];
  /** @deprecated Use `exchange.users.create` (which validates its input as the route does) and `exchange.users.remove`. */
  readonly userLifecycle: UserLifecycle;
  /** @deprecated Use `exchange.users.setRole`. */
  readonly userRoles: UserRoles;
  /** @deprecated Use `exchange.issuers.add`. */
  addIssuer(orgId: string, input: IssuerRegistrationInput): Promise<IssuerRegistrationRecord>;
  /** @deprecated Use `exchange.issuers.list`, which throws `not_found` for an unknown organization. */
  listIssuers(orgId: string): Promise<IssuerRegistrationRecord[]>;
  /** @deprecated Use `exchange.issuers.remove`, which throws `not_found` where this returns `false`. */
  removeIssuer(orgId: string, registrationId: string): Promise<boolean>;
  /** @deprecated Use `exchange.keys.rotate`. */
  rotateSigningKey(use?: SigningKeyUse): Promise<RotatedKey>;
  /** @deprecated Use `exchange.apiKeys.issue`. */
  issueApiKey(orgId: string): Promise<GeneratedApiKey>;
  /** @deprecated Use `exchange.apiKeys.revoke`, which throws `not_found` where this returns `false`. */
  revokeApiKey(orgId: string, keyId: string): Promise<boolean>;
}

let hasWarnedAnyAudience = false;

// Once per process: a fleet of exchanges in one process (tests, several routers) would repeat it.
function warnAnyAudienceOnce(): void {
  if (hasWarnedAnyAudience) return;
  hasWarnedAnyAudience = true;
  process.emitWarning(
    'rialto-exchange: `allowedAudiences` is not set, so partners may put any audience in their access tokens with their API key. Set it in production.',
    { code: 'RIALTO_ANY_AUDIENCE' },
  );
}

/**
 * Builds the exchange: services, caches and routes are created once here; per request only
 * `handle` runs.
 *
 * @example
 * const exchange = createRialtoExchange({ issuer: 'https://api.example.com', store: memoryStore() });
 * const response = await exchange.handle({ method: 'GET', path: '/.well-known/jwks.json', headers: {} });
 */
export function createRialtoExchange(input: RialtoExchangeOptions): RialtoExchange {
  const options = resolveOptions(input);
  const services = createServices(options);
  const groups = createFacadeGroups(services);
  const { logger } = options;
  if (options.allowedAudiences === undefined) warnAnyAudienceOnce();
  const documentedRoutes = [
    ...tokenRoutes(services),
    ...oauthRoutes(services),
    ...userRoutes(services, groups),
    ...adminRoutes(services, groups),
    ...operatorRoutes(groups),
    ...wellKnownRoutes(services),
    ...webhookRoutes(services, groups),
    ...healthRoutes(services),
  ];
  const routes = createRouteTable(
    [...documentedRoutes, ...openApiRoutes(services, documentedRoutes)],
    services,
  );
  const { tracer, metrics: recorder } = services.telemetry;

  async function run({ served, params }: RouteMatch, request: RequestLike): Promise<ResponseLike> {
    try {
      return await served.serve(request, params);
    } catch (error) {
      const { oauth, challenge } = served.route;
      if (oauth === undefined) return respondWithError(error, challenge);
      const response = oauth.answerError(error, request);
      logFailure(error, response.status);
      return response;
    }
  }

  function runInSpan(selected: RouteMatch, request: RequestLike): Promise<ResponseLike> {
    // A span that does not record has no attributes to take and nothing to end.
    return inActiveSpan(tracer, selected.served.route.spanName, undefined, (span) =>
      span.isRecording() ? runRecorded(selected, request, span) : run(selected, request),
    );
  }

  async function runRecorded(selected: RouteMatch, request: RequestLike, span: Span): Promise<ResponseLike> {
    const response = await run(selected, request);
    const { route } = selected.served;
    // Metric labels and span names use the route's template, never the raw path: bounded and id-free.
    span.setAttribute('http.route', route.label);
    span.setAttribute('http.request.method', route.method);
    span.setAttribute('http.response.status_code', response.status);
    if (response.status >= 500) markFailed(span, { code: (response.body as { error?: unknown }).error });
    span.end();
    return response;
  }

  function respondWithError(error: unknown, scheme: AuthScheme = 'none'): ResponseLike {
    const rialtoError = toRialtoError(error);
    logFailure(rialtoError, rialtoError.status);
    return errorResponse(rialtoError, scheme);
  }

  /** Server errors and unreachable IdPs are the operator's to hear, whatever format answered them. */
  function logFailure(error: unknown, status: number): void {
    if (error instanceof OAuthError) {
      if (status >= 500)
        logger.error({ err: error.cause ?? error, code: error.code }, 'rialto-exchange request failed');
      return;
    }
    const rialtoError = toRialtoError(error);
    if (status >= 500) {
      logger.error(
        { err: rialtoError.cause ?? rialtoError, code: rialtoError.code },
        'rialto-exchange request failed',
      );
    } else if (rialtoError.code === 'discovery_failed') {
      logger.warn({ err: rialtoError.cause, code: rialtoError.code }, 'identity provider unreachable');
    }
  }

  return {
    options,
    handlesPath: routes.handlesPath,
    async handle(request) {
      const candidates = routes.match(request.path);
      if (candidates.length === 0) return null;
      const selected = candidates.find(({ served }) => served.route.method === request.method);
      if (!selected) {
        const allow = candidates.map(({ served }) => served.route.method).join(', ');
        return respondWithError(new RialtoError('method_not_allowed', undefined, { headers: { allow } }));
      }
      if (recorder === undefined) return runInSpan(selected, request);
      const startedMs = performance.now();
      const response = await runInSpan(selected, request);
      const seconds = (performance.now() - startedMs) / 1000;
      recorder.requestServed(selected.served.route.label, request.method, response.status, seconds);
      return response;
    },
    verifyAccessToken: services.accessTokens.verify,
    async authenticateBearer(headers, verifyOptions) {
      if (readPresentedAccessToken(headers)?.scheme !== 'Bearer') {
        throw new RialtoError('unauthorized', 'A Bearer access token is required.');
      }
      // A Bearer request never reaches the proof check, so its method and URL are not read.
      return services.accessTokens.authenticate(
        { method: 'GET', url: options.issuer, headers },
        verifyOptions,
      );
    },
    authenticateRequest: services.accessTokens.authenticate,
    authorizationServerMetadata: {
      ...authorizationServerMetadataLocation(options.issuer),
      response: () =>
        json(
          200,
          authorizationServerMetadata({
            issuer: options.issuer,
            dpopSigningAlgorithms: services.dpop.algorithms,
          }),
          { 'cache-control': 'public, max-age=300' },
        ),
    },
    errorResponse: respondWithError,
    audit: { on: services.events.on },
    ...groups,
    metrics: services.metrics,
    close: services.deliveryWorker.stop,
    // Deprecated aliases, kept for one minor release with their former results (and synchronous throws).
    registerOrganization: (registration) =>
      services.organizations.register(validateInput(registrationSchema, registration)),
    setOrganizationSuspended: services.organizations.setSuspended,
    setOrganizationProvisioning: services.organizations.setProvisioning,
    deleteOrganization: services.organizations.remove,
    userLifecycle: services.userLifecycle,
    userRoles: services.userRoles,
    addIssuer: (orgId, input) => services.issuers.add(orgId, validateInput(issuerRegistrationSchema, input)),
    listIssuers: services.issuers.list,
    removeIssuer: services.issuers.remove,
    rotateSigningKey: groups.keys.rotate,
    issueApiKey: services.apiKeys.issue,
    revokeApiKey: services.apiKeys.revoke,
  };
}
