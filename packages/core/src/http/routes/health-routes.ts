import type { Services } from '../../services.js';
import type { Store } from '../../store/store.js';
import type { ResponseLike } from '../http-types.js';
import { respond } from '../messages.js';
import { declareRoute, type Route, type RouteKey } from '../route.js';
import { healthResponseSchema } from '../wire-format.js';

// A UUID no record ever gets: the probe reads by primary key and always finds nothing.
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

type CheckStatus = 'UP' | 'DOWN';

/** One check as MicroProfile Health (Keycloak, Quarkus) reports it; `data` only for admins. */
interface HealthCheck {
  name: string;
  status: CheckStatus;
  data?: Record<string, number | string>;
}

type StoreProbeResult =
  | { status: 'UP'; latencyMs: number }
  | { status: 'DOWN'; reason: 'timeout' | 'unavailable' };

/**
 * `GET` liveness and readiness routes, answering MicroProfile Health JSON (`{ status, checks }`).
 * Liveness never touches the store, so a store outage never gets instances restarted; readiness
 * reads the store, so a load balancer stops sending requests an instance cannot serve. Neither names
 * an issuer, an organization or a secret; admins also get figures (`data`) to diagnose with.
 */
export function healthRoutes({ options, store, remoteJwks }: Services): Route[] {
  const { health } = options;
  if (health === false) return [];
  const probeStore = createStoreProbe(store, health.readyTimeoutMs);

  return [
    declareRoute({
      route: `GET ${health.livePath}` as RouteKey,
      credentials: [],
      operationId: 'getLiveness',
      summary: 'Liveness: 200 while the process serves requests; never touches the store',
      tag: 'Health',
      responses: { 200: healthResponseSchema },
      errors: [],
      async run() {
        return answer('UP', []);
      },
    }),
    declareRoute({
      route: `GET ${health.readyPath}` as RouteKey,
      credentials: ['adminToken', 'anonymous'],
      operationId: 'getReadiness',
      summary:
        'Readiness: 200 when the store answers a read in time, else 503; admins also get figures (data)',
      tag: 'Health',
      responses: { 200: healthResponseSchema, 503: healthResponseSchema },
      errors: [],
      async run(_request, _params, caller) {
        const store = await probeStore();
        const storeCheck: HealthCheck = { name: 'store', status: store.status };
        const checks = [storeCheck];
        if (caller.kind === 'admin') {
          storeCheck.data =
            store.status === 'UP' ? { latency_ms: Math.round(store.latencyMs) } : { reason: store.reason };
          const keySets = remoteJwks.summary();
          checks.push({
            name: 'idp_key_sets',
            status: 'UP',
            data: {
              cached: keySets.entries,
              ...(keySets.oldestAgeMs === undefined
                ? {}
                : { oldest_age_seconds: Math.floor(keySets.oldestAgeMs / 1000) }),
            },
          });
        }
        return answer(store.status, checks);
      },
    }),
  ];
}

function answer(status: CheckStatus, checks: HealthCheck[]): ResponseLike {
  return respond(status === 'UP' ? 200 : 503, healthResponseSchema, { status, checks });
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
