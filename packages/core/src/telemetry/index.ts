/**
 * Logs, metrics, traces and audit events.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { RialtoEventMap, RialtoEvents, RialtoEventType } from './audit-events.js';
export { createEvents } from './audit-events.js';
export type { Logger } from './logger.js';
export type {
  MetricsOptions,
  MetricsRecorder,
  OAuthGrantLabel,
  PrometheusRegistry,
  RateLimitScope,
  RialtoMetrics,
  WebhookAttemptOutcome,
} from './prometheus-metrics.js';
export { createPrometheusMetrics, metricsOptionsSchema } from './prometheus-metrics.js';
export { createStderrLogger } from './stderr-logger.js';
export type { Telemetry } from './tracing.js';
export {
  createTelemetry,
  inActiveSpan,
  inSpan,
  markFailed,
  NO_TELEMETRY,
  observeIdpFetch,
  tracedStore,
} from './tracing.js';
