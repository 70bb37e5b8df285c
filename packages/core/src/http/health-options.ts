import type { z } from 'zod';
import { named, orFalse, positiveNumber, routePath, strictOptions } from '../options/schema-helpers.js';

const healthOptionsShape = {
  /**
   * Liveness: answers 200 while the process serves requests; never touches the store.
   * @default '/health/live'
   */
  // Keycloak's and Quarkus' paths (MicroProfile Health); Kubernetes probes name them directly.
  livePath: routePath('/health/live'),
  /**
   * Readiness: 200 when the store answers a read within `readyTimeoutMs`, else 503.
   * @default '/health/ready'
   */
  readyPath: routePath('/health/ready'),
  /** How long readiness waits for the store before answering 503. @default 500 */
  // Kubernetes' default probe timeout is 1 s: readiness must answer before the kubelet gives up on it.
  readyTimeoutMs: positiveNumber().default(500),
};

/** The liveness and readiness routes of `createRialtoExchange` / `rialtoExchange`. */
export interface HealthOptions extends z.input<z.ZodObject<typeof healthOptionsShape>> {}

export interface ResolvedHealthOptions extends z.output<z.ZodObject<typeof healthOptionsShape>> {}

/** The `health` option: validated and defaulted in one place, as every other option is. */
export const healthOptionsSchema = orFalse(
  named<ResolvedHealthOptions, HealthOptions>(
    strictOptions(healthOptionsShape).refine((health) => health.livePath !== health.readyPath, {
      error: 'needs a `livePath` and a `readyPath` that differ',
    }),
  ),
  'an object { livePath?, readyPath?, readyTimeoutMs? }',
).prefault({});
