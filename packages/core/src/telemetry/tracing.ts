import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  INVALID_SPANID,
  INVALID_TRACEID,
  ProxyTracer,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Store } from '../store/store.js';
import type { IdpDocument, MetricsRecorder } from './prometheus-metrics.js';

/**
 * What the services report to. `metrics` is `undefined` unless the host enabled them, so call
 * sites (`telemetry.metrics?.…`) cost nothing then; the tracer comes from `@opentelemetry/api`
 * and is a no-op until the host registers an OpenTelemetry SDK.
 */
export interface Telemetry {
  readonly metrics: MetricsRecorder | undefined;
  readonly tracer: Tracer;
}

export const TRACER_NAME = '@rialto-exchange/core';

export function createTelemetry(metrics: MetricsRecorder | undefined): Telemetry {
  // `trace.getTracer` returns a proxy that starts delegating once an SDK is registered, even later.
  return { metrics, tracer: trace.getTracer(TRACER_NAME) };
}

/** Telemetry that records nothing, for services built outside an exchange (tests, the CLI). */
export const NO_TELEMETRY: Telemetry = createTelemetry(undefined);

// The API's own no-op provider, which its proxy provider delegates to until an SDK registers.
const NO_SDK = new ProxyTracerProvider().getDelegate();
// What `work` receives when no span is started: records nothing, carries no trace.
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether `tracer` is the API's proxy and no SDK is registered now, so any span it started would be
 * a no-op. Asked on every call (a global read and an identity compare, cheaper than starting a
 * no-op span), so an SDK registered later takes over at once. A tracer the caller built itself, or
 * a provider registered through another copy of the API, counts as tracing.
 */
export function tracesNothing(tracer: Tracer): boolean {
  if (!(tracer instanceof ProxyTracer)) return false;
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NO_SDK;
}

/**
 * `tracer.startActiveSpan(name, options, work)` with two shortcuts. Without an SDK no span is
 * started at all (see `tracesNothing`). When the span handed back neither records nor carries a
 * valid trace context, making it active would show a child span nothing new, so `work` runs in the
 * caller's context: no context copy and no context switch per span. A span that an SDK samples out
 * still has a valid context and is made active, so its children stay in its trace.
 */
export function inActiveSpan<T>(
  tracer: Tracer,
  name: string,
  options: SpanOptions | undefined,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  if (tracesNothing(tracer)) return withoutContext(NO_SPAN, work);
  const parent = context.active();
  const span = tracer.startSpan(name, options, parent);
  if (span.isRecording() || !carriesNoTrace(span)) {
    return context.with(trace.setSpan(parent, span), work, undefined, span);
  }
  return withoutContext(span, work);
}

function withoutContext<T>(span: Span, work: (span: Span) => Promise<T>): Promise<T> {
  try {
    return work(span);
  } catch (error) {
    // As from startActiveSpan's async callbacks: a synchronous throw arrives as a rejection.
    return Promise.reject(error);
  }
}

// The no-op tracer's span without a parent has all-zero ids. Compared as strings rather than with
// isSpanContextValid, whose regular expressions cost more than the rest of a no-op span; an id that
// is merely malformed counts as a trace here, which errs on the side of activating the span.
function carriesNoTrace(span: Span): boolean {
  const { traceId, spanId } = span.spanContext();
  return traceId === INVALID_TRACEID || spanId === INVALID_SPANID;
}

/**
 * Runs `work` inside an active span (see `inActiveSpan`), so spans started within (IdP fetches,
 * store calls) nest under it. A failure sets the span's status and `error.type` to the error's code
 * or class name only: messages and stacks can quote upstream answers, so they are never recorded.
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  work: (span: Span) => Promise<T>,
  attributes?: Attributes,
): Promise<T> {
  if (tracesNothing(tracer)) return withoutContext(NO_SPAN, work);
  // A span that does not record has no status to set and nothing to end.
  return inActiveSpan(tracer, name, attributes === undefined ? undefined : { attributes }, (span) =>
    span.isRecording() ? recordOutcome(span, work) : work(span),
  );
}

async function recordOutcome<T>(span: Span, work: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await work(span);
  } catch (error) {
    markFailed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

export function markFailed(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const type =
    typeof error === 'object' && error !== null
      ? String((error as { code?: unknown }).code ?? (error as Error).name ?? 'Error')
      : 'Error';
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR });
}

const STORE_SPAN_OPTIONS = { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'rialto-store' } };

/**
 * The store with a client span (`rialto.store.<method>`) around every method call. Spans carry the
 * method name only, never arguments (hashes, tokens' ids, emails). Without an SDK the call goes
 * straight through: no span, no added promise. A plain object of one wrapper per method rather
 * than a Proxy, so reaching a method costs no trap; each wrapper reads the method from the store
 * when called, so a method replaced later (a test's spy) is the one called.
 */
export function tracedStore(store: Store, tracer: Tracer): Store {
  const target = store as unknown as Record<string, StoreMethod>;
  const traced: Record<string, unknown> = {};
  for (const property of methodNames(store)) {
    const name = `rialto.store.${property}`;
    traced[property] = function traced(...args: unknown[]) {
      if (tracesNothing(tracer)) return Reflect.apply(target[property] as StoreMethod, target, args);
      const span = tracer.startSpan(name, STORE_SPAN_OPTIONS);
      if (!span.isRecording()) return Reflect.apply(target[property] as StoreMethod, target, args);
      let result: unknown;
      try {
        result = Reflect.apply(target[property] as StoreMethod, target, args);
      } catch (error) {
        markFailed(span, error);
        span.end();
        throw error;
      }
      if (!(result instanceof Promise)) {
        span.end();
        return result;
      }
      return result.then(
        (resolved) => {
          span.end();
          return resolved;
        },
        (error: unknown) => {
          markFailed(span, error);
          span.end();
          throw error;
        },
      );
    };
  }
  return traced as unknown as Store;
}

type StoreMethod = (...args: unknown[]) => unknown;

/** The store's methods, its own and its classes' (an adapter may be a class instance). */
function methodNames(store: Store): Set<string> {
  const names = new Set<string>();
  for (let level: object | null = store; level !== null && level !== Object.prototype; ) {
    for (const name of Object.getOwnPropertyNames(level)) {
      if (
        name !== 'constructor' &&
        typeof (store as unknown as Record<string, unknown>)[name] === 'function'
      ) {
        names.add(name);
      }
    }
    level = Object.getPrototypeOf(level);
  }
  return names;
}

/** Loads an IdP document inside a `rialto.idp.fetch` span, counting its outcome and duration. */
export function observeIdpFetch<T>(
  telemetry: Telemetry,
  document: IdpDocument,
  url: URL,
  load: () => Promise<T>,
): Promise<T> {
  const { metrics } = telemetry;
  const attributes = { 'rialto.idp.document': document, 'server.address': url.hostname };
  return inSpan(
    telemetry.tracer,
    'rialto.idp.fetch',
    async () => {
      const startedMs = performance.now();
      try {
        const loaded = await load();
        metrics?.idpFetched(document, 'success', (performance.now() - startedMs) / 1000);
        return loaded;
      } catch (error) {
        metrics?.idpFetched(document, 'failure', (performance.now() - startedMs) / 1000);
        throw error;
      }
    },
    attributes,
  );
}
