import type { Services } from '../../services.js';
import type { ResponseLike } from '../http-types.js';
import { respond } from '../messages.js';
import { declareRoute, type Route, type RouteKey } from '../route.js';
import { healthResponseSchema } from '../wire-format.js';

type CheckStatus = 'UP' | 'DOWN';

/** One check as MicroProfile Health (Keycloak, Quarkus) reports it; `data` only for admins. */
interface HealthCheck {
  name: string;
  status: CheckStatus;
  data?: Record<string, number | string>;
}

/**
 * `GET` liveness and readiness routes, answering MicroProfile Health JSON (`{ status, checks }`).
 * Liveness never touches the store, so a store outage never gets instances restarted; readiness
 * reads the store, so a load balancer stops sending requests an instance cannot serve. Neither names
 * an issuer, an organization or a secret; admins also get figures (`data`) to diagnose with.
 */
export function healthRoutes({ options, health: checks }: Services): Route[] {
  const { health } = options;
  if (health === false) return [];

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
        if (caller.kind !== 'admin') {
          const store = await checks.probeStore();
          return answer(store.status, [{ name: 'store', status: store.status }]);
        }
        const summary = await checks.summary();
        const { store, idpKeySets, outboxBacklog } = summary;
        return answer(store.status, [
          {
            name: 'store',
            status: store.status,
            data:
              store.status === 'UP' ? { latency_ms: Math.round(store.latencyMs) } : { reason: store.reason },
          },
          {
            name: 'idp_key_sets',
            status: 'UP',
            data: {
              cached: idpKeySets.cached,
              ...(idpKeySets.oldestAgeSeconds === null
                ? {}
                : { oldest_age_seconds: idpKeySets.oldestAgeSeconds }),
            },
          },
          ...(outboxBacklog === null
            ? []
            : [{ name: 'webhook_outbox', status: 'UP' as const, data: { backlog: outboxBacklog } }]),
        ]);
      },
    }),
  ];
}

function answer(status: CheckStatus, checks: HealthCheck[]): ResponseLike {
  return respond(status === 'UP' ? 200 : 503, healthResponseSchema, { status, checks });
}
