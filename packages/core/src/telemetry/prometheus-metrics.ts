import { createRequire } from 'node:module';
import { z } from 'zod';
import { epochSeconds } from '../internal/clock.js';
import type { OAuthErrorCode } from '../oauth/oauth-error.js';
import { implementation, named, strictOptions } from '../options/schema-helpers.js';
import type { WebhookStore } from '../store/store.js';
import type { RialtoEvents } from './audit-events.js';

/**
 * A prom-client `Registry` (or anything shaped like one): where the exchange registers its metrics.
 * Typed structurally so that hosts not using metrics need no prom-client types.
 */
export interface PrometheusRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
  registerMetric(metric: never): void;
}

const metricsOptionsShape = {
  /** The registry to register on. @default prom-client's global `register` */
  registry: implementation<PrometheusRegistry>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as PrometheusRegistry).registerMetric === 'function' &&
      typeof (value as PrometheusRegistry).metrics === 'function',
    'a prom-client Registry',
  ).optional(),
  /**
   * Put before every metric name; change it to run two exchanges on one registry.
   * @default 'rialto_'
   */
  prefix: z
    .string({ error: 'must be a valid Prometheus metric name prefix' })
    .regex(/^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/, { error: 'must be a valid Prometheus metric name prefix' })
    .default('rialto_'),
};

/** The `metrics` option of `createRialtoExchange` / `rialtoExchange`. */
export interface MetricsOptions extends z.input<z.ZodObject<typeof metricsOptionsShape>> {}

export interface ResolvedMetricsOptions extends z.output<z.ZodObject<typeof metricsOptionsShape>> {}

const metricsObjectSchema = named<ResolvedMetricsOptions, MetricsOptions>(strictOptions(metricsOptionsShape));

/** The `metrics` option: `true` takes prom-client's global registry and the default prefix. */
export const metricsOptionsSchema = z
  .union(
    [
      z.literal(false),
      z
        .literal(true)
        .transform(() => ({}))
        .pipe(metricsObjectSchema),
      metricsObjectSchema,
    ],
    { error: 'must be true, false or { registry?, prefix? }' },
  )
  .default(false);

/** The exchange's metrics, for the host to expose (e.g. `rialtoMetricsHandler` in the Express binding). */
export interface RialtoMetrics {
  /** The registry holding them, which the host may also use for its own metrics. */
  readonly registry: PrometheusRegistry;
  /** The `Content-Type` of `scrape()`'s text. */
  readonly contentType: string;
  /** Every metric of the registry in the Prometheus text format. */
  scrape(): Promise<string>;
}

/** Where a document about an IdP came from. */
export type IdpDocument = 'discovery' | 'jwks';
/** How one delivery attempt ended; `error` when it could not be recorded (store down). */
export type WebhookAttemptOutcome = 'succeeded' | 'retrying' | 'failed' | 'error';
export type RateLimitScope = 'client_address' | 'organization';

/**
 * The instrumentation points the services call. Every label value comes from a fixed set or a
 * route template: never a token, email, API key, user or organization, so cardinality stays bounded.
 */
export interface MetricsRecorder {
  requestServed(route: string, method: string, status: number, seconds: number): void;
  idpFetched(document: IdpDocument, outcome: 'success' | 'failure', seconds: number): void;
  idpCacheHit(document: IdpDocument): void;
  signingKeysReloaded(outcome: 'success' | 'failure'): void;
  webhookAttempted(outcome: WebhookAttemptOutcome): void;
  rateLimited(scope: RateLimitScope): void;
  /** An answer of `POST /oauth/token`: `success` or the OAuth `error` it answered. */
  oauthTokenAnswered(grantType: OAuthGrantLabel, result: 'success' | OAuthErrorCode): void;
}

/**
 * The `grant_type` label of the token endpoint's metrics: a fixed set, so a client's made-up grant
 * types cannot grow it (`unsupported` is any other, or none).
 */
export type OAuthGrantLabel = 'token_exchange' | 'jwt_bearer' | 'refresh_token' | 'unsupported';

type PromClient = typeof import('prom-client');

// prom-client is an optional peer dependency, loaded only when metrics are enabled. It is CommonJS,
// so it can be required synchronously and the exchange factory stays synchronous.
function loadPromClient(): PromClient {
  try {
    return createRequire(import.meta.url)('prom-client') as PromClient;
  } catch (error) {
    throw new TypeError(
      'createRialtoExchange: `metrics` needs the prom-client package; install it (npm install prom-client)',
      { cause: error },
    );
  }
}

/**
 * How long a scrape waits for the store to count the outbox backlog. Prometheus's default scrape
 * timeout is 10 s, and every other metric is in memory: a slow store must not make the scrape time out.
 */
export const OUTBOX_BACKLOG_DEADLINE_MS = 1_000;

/**
 * The outbox backlog at `now`, or `NaN` when the store did not answer within the deadline or failed:
 * Prometheus shows a gap, not a stale or made-up count, and the rest of the scrape is unaffected.
 */
async function countBacklog(
  countPending: (now: number) => Promise<number>,
  deadlineMs: number,
): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<number>((resolve) => {
    timer = setTimeout(resolve, deadlineMs, Number.NaN);
  });
  try {
    return await Promise.race([countPending(epochSeconds()).catch(() => Number.NaN), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Registers the exchange's metrics and feeds them from the audit events (exchange results, refresh
 * reuse) and from the recorder the services call (everything else).
 */
export function createPrometheusMetrics(
  options: ResolvedMetricsOptions,
  events: RialtoEvents,
  store: Pick<WebhookStore, 'countPendingWebhookDeliveries'>,
  backlogDeadlineMs = OUTBOX_BACKLOG_DEADLINE_MS,
): { recorder: MetricsRecorder; metrics: RialtoMetrics } {
  const client = loadPromClient();
  const registry = (options.registry ?? client.register) as InstanceType<PromClient['Registry']>;
  const registers = [registry];
  const name = (suffix: string) => `${options.prefix}${suffix}`;

  const exchanges = new client.Counter({
    name: name('exchanges_total'),
    help: 'Token exchanges by result: "success" or the error code answered.',
    labelNames: ['result'] as const,
    registers,
  });
  const reuseDetections = new client.Counter({
    name: name('refresh_reuse_detected_total'),
    help: 'Refresh tokens presented again after use; each revoked its whole family.',
    registers,
  });
  const requestDuration = new client.Histogram({
    name: name('http_request_duration_seconds'),
    help: 'Time to answer requests, by route template, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  });
  const idpFetches = new client.Counter({
    name: name('idp_fetches_total'),
    help: 'Discovery and JWKS loads from identity providers (or the shared document cache), by outcome.',
    labelNames: ['document', 'outcome'] as const,
    registers,
  });
  const idpFetchDuration = new client.Histogram({
    name: name('idp_fetch_duration_seconds'),
    help: 'Time to load a discovery document or JWKS.',
    labelNames: ['document'] as const,
    registers,
  });
  const idpCacheHits = new client.Counter({
    name: name('idp_cache_hits_total'),
    help: 'Discovery documents and JWKS served from the in-process cache while fresh.',
    labelNames: ['document'] as const,
    registers,
  });
  const keyReloads = new client.Counter({
    name: name('signing_key_reloads_total'),
    help: "Reloads of the service's own signing keys from the store, by outcome.",
    labelNames: ['outcome'] as const,
    registers,
  });
  const webhookAttempts = new client.Counter({
    name: name('webhook_deliveries_total'),
    help: 'Webhook delivery attempts by outcome: succeeded, retrying (failed, retry scheduled), failed (no retry left), error (not recorded).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const oauthTokenAnswers = new client.Counter({
    name: name('oauth_token_requests_total'),
    help: 'Answers of POST /oauth/token by grant_type (token_exchange, jwt_bearer, refresh_token, unsupported) and result ("success" or the OAuth error).',
    labelNames: ['grant_type', 'result'] as const,
    registers,
  });
  const rateLimited = new client.Counter({
    name: name('rate_limit_refusals_total'),
    help: 'Requests refused with 429 rate_limited, by the limit that refused them.',
    labelNames: ['scope'] as const,
    registers,
  });

  // Counted by the store on each scrape, so every instance reports the fleet's one outbox; stores
  // without the capability get no gauge rather than a misleading zero.
  const countPending = store.countPendingWebhookDeliveries?.bind(store);
  if (countPending !== undefined) {
    new client.Gauge({
      name: name('webhook_outbox_backlog'),
      help: 'Webhook deliveries due and waiting for a worker, across the fleet; NaN when the store did not answer in time.',
      registers,
      async collect() {
        this.set(await countBacklog(countPending, backlogDeadlineMs));
      },
    });
  }

  events.on('exchange.succeeded', () => exchanges.inc({ result: 'success' }));
  events.on('exchange.failed', ({ code }) => exchanges.inc({ result: code }));
  events.on('refresh.reuse_detected', () => reuseDetections.inc());

  // One labels object per (route, method, status), reused: recording allocates nothing once warm.
  const requestLabels = new Map<string, { route: string; method: string; status: string }>();

  return {
    recorder: {
      requestServed(route, method, status, seconds) {
        const knownMethod = KNOWN_METHODS.has(method) ? method : 'OTHER';
        const key = `${route} ${knownMethod} ${status}`;
        let labels = requestLabels.get(key);
        if (labels === undefined) {
          labels = { route, method: knownMethod, status: String(status) };
          requestLabels.set(key, labels);
        }
        requestDuration.observe(labels, seconds);
      },
      idpFetched(document, outcome, seconds) {
        idpFetches.inc({ document, outcome });
        idpFetchDuration.observe({ document }, seconds);
      },
      idpCacheHit: (document) => idpCacheHits.inc({ document }),
      signingKeysReloaded: (outcome) => keyReloads.inc({ outcome }),
      webhookAttempted: (outcome) => webhookAttempts.inc({ outcome }),
      rateLimited: (scope) => rateLimited.inc({ scope }),
      oauthTokenAnswered: (grantType, result) => oauthTokenAnswers.inc({ grant_type: grantType, result }),
    },
    metrics: {
      registry,
      contentType: registry.contentType,
      scrape: () => registry.metrics(),
    },
  };
}
