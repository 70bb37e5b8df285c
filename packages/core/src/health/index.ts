/**
 * Readiness checks and the health summary admins and the console read.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { HealthChecks, HealthSummary, StoreProbeResult } from './health-summary.js';
export { createHealthChecks } from './health-summary.js';
