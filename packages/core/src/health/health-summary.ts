import { epochSeconds } from '../internal/clock.js';
import type { RemoteJwks } from '../issuers/remote-jwks.js';
import type { Store } from '../store/store.js';

// A UUID no record ever gets: the probe reads by primary key and always finds nothing.
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Whether the store answered a read in time, and how fast. */
export type StoreProbeResult =
  | { status: 'UP'; latencyMs: number }
  | { status: 'DOWN'; reason: 'timeout' | 'unavailable' };

/** What an operator checks first: the store, the IdP key-set cache, the webhook outbox. */
export interface HealthSummary {
  store: StoreProbeResult;
  /** The IdP key sets (JWKS) cached in this process: how many, and the age of the oldest. */
  idpKeySets: { cached: number; oldestAgeSeconds: number | null };
  /**
   * Webhook deliveries due and not yet attempted, over every organization; `null` when the store
   * cannot count them (it leaves out `countPendingWebhookDeliveries`) or did not answer.
   */
  outboxBacklog: number | null;
}

export interface HealthSummaryOptions {
  store: Store;
  remoteJwks: Pick<RemoteJwks, 'summary'>;
  /** How long to wait for the store before reporting it down. */
  timeoutMs: number;
}

export interface HealthChecks {
  /** Reads the store once (shared by concurrent callers) within the timeout. */
  probeStore(): Promise<StoreProbeResult>;
  /** The store probe, the key-set cache and the outbox backlog. */
  summary(): Promise<HealthSummary>;
}

export function createHealthChecks({ store, remoteJwks, timeoutMs }: HealthSummaryOptions): HealthChecks {
  const probeStore = createStoreProbe(store, timeoutMs);

  return {
    probeStore,
    async summary() {
      const storeResult = await probeStore();
      const keySets = remoteJwks.summary();
      return {
        store: storeResult,
        idpKeySets: {
          cached: keySets.entries,
          oldestAgeSeconds: keySets.oldestAgeMs === undefined ? null : Math.floor(keySets.oldestAgeMs / 1000),
        },
        outboxBacklog: storeResult.status === 'UP' ? await countBacklog(store) : null,
      };
    },
  };
}

async function countBacklog(store: Store): Promise<number | null> {
  if (!store.countPendingWebhookDeliveries) return null;
  try {
    return await store.countPendingWebhookDeliveries(epochSeconds());
  } catch {
    // The summary reports what it can; the store's own state is in `store`.
    return null;
  }
}

/**
 * Reads one organization by a key that never exists: the cheapest read every store has, and one
 * that goes to the backend (no cache sits in front of it). Probes arriving while a read is in flight
 * share it, so a stalled backend never accumulates one pending read per probe.
 */
function createStoreProbe(store: Store, timeoutMs: number): () => Promise<StoreProbeResult> {
  let inFlight: Promise<number> | undefined;

  function read(): Promise<number> {
    if (inFlight === undefined) {
      const startedMs = performance.now();
      inFlight = store
        .getOrganization(NIL_UUID)
        .then(() => performance.now() - startedMs)
        .finally(() => {
          inFlight = undefined;
        });
    }
    return inFlight;
  }

  return async function probeStore() {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, undefined);
    });
    try {
      const latencyMs = await Promise.race([read(), deadline]);
      return latencyMs === undefined ? { status: 'DOWN', reason: 'timeout' } : { status: 'UP', latencyMs };
    } catch {
      return { status: 'DOWN', reason: 'unavailable' };
    } finally {
      clearTimeout(timer);
    }
  };
}
