import { orFalse, positiveNumber, routePath, strictOptions } from '../options/schema-helpers.js';

/** Kubernetes' default probe timeout is 1 s: readiness must answer before the kubelet gives up on it. */
export const DEFAULT_READY_TIMEOUT_MS = 500;
// Keycloak's and Quarkus' paths (MicroProfile Health); Kubernetes probes name them directly.
export const DEFAULT_LIVE_PATH = '/health/live';
export const DEFAULT_READY_PATH = '/health/ready';

/** The liveness and readiness routes of `createRialtoExchange` / `rialtoExchange`. */
export interface HealthOptions {
  /** Liveness: answers 200 while the process serves requests; never touches the store. @default '/health/live' */
  livePath?: string;
  /** Readiness: 200 when the store answers a read within `readyTimeoutMs`, else 503. @default '/health/ready' */
  readyPath?: string;
  /** How long readiness waits for the store before answering 503. @default 500 */
  readyTimeoutMs?: number;
}

export type ResolvedHealthOptions = Required<HealthOptions> | false;

/** The `health` option: validated and defaulted in one place, as every other option is. */
export const healthOptionsSchema = orFalse(
  strictOptions({
    livePath: routePath(DEFAULT_LIVE_PATH),
    readyPath: routePath(DEFAULT_READY_PATH),
    readyTimeoutMs: positiveNumber().default(DEFAULT_READY_TIMEOUT_MS),
  }).refine((health) => health.livePath !== health.readyPath, {
    error: 'needs a `livePath` and a `readyPath` that differ',
  }),
  'an object { livePath?, readyPath?, readyTimeoutMs? }',
).prefault({});
