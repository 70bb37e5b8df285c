import type { HealthSummary } from '../health/health-summary.js';
import type { Services } from '../services.js';

/** What an operator checks first, as the admin view of `GET /health/ready` reports it. */
export interface RialtoHealth {
  /**
   * Reads the store once (within the readiness timeout), and reports it with the IdP key-set cache
   * of this process and the webhook outbox backlog. Never throws: a store outage is `store.status: 'DOWN'`.
   * @example
   * const { store, outboxBacklog } = await exchange.health.summary();
   */
  summary(): Promise<HealthSummary>;
}

export function createHealthFacade({ health }: Services): RialtoHealth {
  return { summary: health.summary };
}
