import type { Span } from '@opentelemetry/api';
import { RialtoError, toRialtoError } from './errors.js';
import type { RequestLike, ResponseLike } from './http/http-types.js';
import { type AuthScheme, errorResponse } from './http/messages.js';
import { createRouteTable, type Route, type RouteMatch, routeTemplate } from './http/route.js';
import { adminRoutes } from './http/routes/admin-routes.js';
import { healthRoutes } from './http/routes/health-routes.js';
import { openApiRoutes } from './http/routes/openapi-routes.js';
import { tokenRoutes } from './http/routes/token-routes.js';
import { userRoutes } from './http/routes/user-routes.js';
import { webhookRoutes } from './http/routes/webhook-routes.js';
import { wellKnownRoutes } from './http/routes/well-known-routes.js';
import { epochSeconds } from './internal/clock.js';
import { validateInput } from './internal/validate-input.js';
import { type IssuerRegistrationInput, issuerRegistrationSchema } from './issuers/issuer-registrations.js';
import type { RotatedKey } from './keys/signing-keys.js';
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
import type { Users } from './users/users.js';
import type { DeliveryRunSummary } from './webhooks/delivery-worker.js';
import { webhookEvent } from './webhooks/event-catalogue.js';

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
  /**
   * In-process audit events, for logs and SIEM: `exchange.audit.on('exchange.failed', ({ code, orgId }) => …)`.
   * Handlers run in this process only and nothing is stored; for events partners receive, see `webhooks`.
   */
  readonly audit: Pick<RialtoEvents, 'on'>;
  /** Changes users' verification state from host code, as `PATCH /identity/users/:user_id` does. */
  readonly users: Users;
  /** Grants and withdraws the org admin role from host code, as `PUT /identity/users/:user_id/role` does. */
  readonly userRoles: UserRoles;
  /** Durable, org-scoped webhook events that partners subscribe to, and their delivery worker. */
  readonly webhooks: RialtoWebhooks;
  /**
   * The Prometheus metrics when the `metrics` option enabled them, else `undefined`. Serve
   * `scrape()` with `contentType` where your Prometheus reaches it (Express: `rialtoMetricsHandler`).
   */
  readonly metrics: RialtoMetrics | undefined;
  /** Stops the background delivery worker and waits for a pass in progress. */
  close(): Promise<void>;
  /**
   * Registers an organization from host code (scripts, seeding), as the admin route does, with the
   * same validation. @throws RialtoError `invalid_request` or `conflict`
   */
  registerOrganization(input: OrganizationRegistration): Promise<RegisteredOrganization>;
  /** Suspends or resumes an organization, as `POST /identity/organizations/:org_id/suspend|resume` do. */
  setOrganizationSuspended: Organizations['setSuspended'];
  /** Sets an organization's provisioning mode, as `PATCH /identity/organizations/:org_id` does. */
  setOrganizationProvisioning: Organizations['setProvisioning'];
  /** Removes an organization and all its data, as `DELETE /identity/organizations/:org_id` does. */
  deleteOrganization: Organizations['remove'];
  /** Pre-creates and erases users, as `POST /identity/users` and `DELETE /identity/users/:user_id` do. */
  readonly userLifecycle: UserLifecycle;
  /**
   * Adds an issuer to an organization from host code, as `POST /identity/organizations/:org_id/issuers`
   * does, with the same validation.
   * @throws RialtoError `not_found`, `invalid_request` or `conflict`
   */
  addIssuer(orgId: string, input: IssuerRegistrationInput): Promise<IssuerRegistrationRecord>;
  /** The organization's issuer registrations, oldest first. */
  listIssuers(orgId: string): Promise<IssuerRegistrationRecord[]>;
  /** Removes an issuer registration, as the admin route does. @returns `false` when the org has no such registration */
  removeIssuer(orgId: string, registrationId: string): Promise<boolean>;
  /**
   * Adds a new signing key (or refresh secret) to the store. It is published in the JWKS at once and
   * signs after `signingKeyPrepublishSeconds`; the key it replaces verifies until its tokens expire.
   * Other instances pick the new key up within a minute.
   * @throws TypeError when the host supplies that kind of key through options
   */
  rotateSigningKey(use?: SigningKeyUse): Promise<RotatedKey>;
  /** Issues another API key for an organization, as the admin route does; the key is shown only here. */
  issueApiKey(orgId: string): Promise<GeneratedApiKey>;
  /** Revokes an API key, as the admin route does. @returns `false` when the org has no such active key */
  revokeApiKey(orgId: string, keyId: string): Promise<boolean>;
  readonly options: ResolvedRialtoExchangeOptions;
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

/** How a route is named in metrics and spans. */
interface RouteName {
  template: string;
  spanName: string;
}

/**
 * The durable webhook events partners subscribe to: host-defined types emitted beside the built-in
 * ones, stored in the outbox and delivered by the worker (unlike the in-process `audit` events).
 */
export interface RialtoWebhooks {
  /**
   * Makes a host-defined event type known, so subscriptions may name it and `emit` accepts it.
   * @throws TypeError when the name is not dotted lower-case segments
   */
  registerEventType(type: string): void;
  /**
   * Records an event for the org's subscribers in the outbox; delivery follows asynchronously.
   * @throws TypeError when `type` was not registered (a host bug, not a request error)
   * @example
   * exchange.webhooks.registerEventType('subscription.created');
   * await exchange.webhooks.emit('subscription.created', orgId, { subscription_id: id, amount: '100.00' });
   */
  emit(type: string, orgId: string, data: unknown): Promise<void>;
  /**
   * One delivery-worker pass: attempts every due delivery. For hosts running their own worker
   * (`webhooks: { worker: false }`) and for tests with a controllable clock.
   * @param options.now epoch seconds deciding what is due; defaults to the clock
   */
  runDueDeliveries(options?: { now?: number }): Promise<DeliveryRunSummary>;
  /** Starts the background delivery worker (unless `webhooks.worker` is `false`); the Express binding calls it. */
  startWorker(): void;
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
  const { logger } = options;
  if (options.allowedAudiences === undefined) warnAnyAudienceOnce();
  const documentedRoutes = [
    ...tokenRoutes(services),
    ...userRoutes(services),
    ...adminRoutes(services),
    ...wellKnownRoutes(services),
    ...webhookRoutes(services),
    ...healthRoutes(services),
  ];
  const allRoutes = [...documentedRoutes, ...openApiRoutes(services, documentedRoutes)];
  const routes = createRouteTable(allRoutes);
  const { tracer, metrics: recorder } = services.telemetry;
  // Metric labels and span names use the route's template, never the raw path: bounded and id-free.
  const names = new Map<Route, RouteName>(
    allRoutes.map((route) => {
      const template = routeTemplate(route.pattern);
      return [route, { template, spanName: `${route.method} ${template}` }];
    }),
  );

  async function run({ route, params }: RouteMatch, request: RequestLike): Promise<ResponseLike> {
    try {
      return await route.run(request, params);
    } catch (error) {
      return respondWithError(error, route.scheme);
    }
  }

  function runInSpan(selected: RouteMatch, name: RouteName, request: RequestLike): Promise<ResponseLike> {
    // A span that does not record has no attributes to take and nothing to end.
    return inActiveSpan(tracer, name.spanName, undefined, (span) =>
      span.isRecording() ? runRecorded(selected, name, request, span) : run(selected, request),
    );
  }

  async function runRecorded(
    selected: RouteMatch,
    name: RouteName,
    request: RequestLike,
    span: Span,
  ): Promise<ResponseLike> {
    const response = await run(selected, request);
    span.setAttribute('http.route', name.template);
    span.setAttribute('http.request.method', selected.route.method);
    span.setAttribute('http.response.status_code', response.status);
    if (response.status >= 500) markFailed(span, { code: (response.body as { error?: unknown }).error });
    span.end();
    return response;
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
    handlesPath: routes.handlesPath,
    async handle(request) {
      const candidates = routes.match(request.path);
      if (candidates.length === 0) return null;
      const selected = candidates.find(({ route }) => route.method === request.method);
      if (!selected) {
        const allow = candidates.map(({ route }) => route.method).join(', ');
        return respondWithError(new RialtoError('method_not_allowed', undefined, { headers: { allow } }));
      }
      const name = names.get(selected.route) as RouteName;
      if (recorder === undefined) return runInSpan(selected, name, request);
      const startedMs = performance.now();
      const response = await runInSpan(selected, name, request);
      const seconds = (performance.now() - startedMs) / 1000;
      recorder.requestServed(name.template, request.method, response.status, seconds);
      return response;
    },
    verifyAccessToken: services.accessTokens.verify,
    authenticateBearer: services.accessTokens.authenticate,
    errorResponse: respondWithError,
    audit: { on: services.events.on },
    users: services.users,
    userRoles: services.userRoles,
    webhooks: {
      registerEventType: services.eventCatalogue.register,
      async emit(type, orgId, data) {
        if (!services.eventCatalogue.has(type)) {
          throw new TypeError(
            `webhooks.emit: "${type}" is not a registered event type; call webhooks.registerEventType() first`,
          );
        }
        await services.store.enqueueWebhookEvents([webhookEvent(type, orgId, data, epochSeconds())]);
      },
      runDueDeliveries: services.deliveryWorker.runDueDeliveries,
      startWorker: services.deliveryWorker.start,
    },
    metrics: services.metrics,
    close: services.deliveryWorker.stop,
    registerOrganization: (registration) =>
      services.organizations.register(validateInput(registrationSchema, registration)),
    addIssuer: (orgId, input) => services.issuers.add(orgId, validateInput(issuerRegistrationSchema, input)),
    listIssuers: services.issuers.list,
    removeIssuer: services.issuers.remove,
    setOrganizationSuspended: services.organizations.setSuspended,
    setOrganizationProvisioning: services.organizations.setProvisioning,
    deleteOrganization: services.organizations.remove,
    userLifecycle: services.userLifecycle,
    issueApiKey: services.apiKeys.issue,
    revokeApiKey: services.apiKeys.revoke,
    async rotateSigningKey(use = 'access_token') {
      const rotated = await services.signingKeys.rotate(use);
      services.events.emit('signing_key.rotated', { use, kid: rotated.kid });
      logger.info({ event: 'signing_key.rotated', use, kid: rotated.kid }, 'signing key rotated');
      return rotated;
    },
  };
}
