import autocannon from 'autocannon';
import { EXCHANGE_PATH } from './protocol.js';

export interface LoadOptions {
  url: string;
  apiKey: string;
  /** Pre-built JSON bodies, one per user of the pool; requests rotate over them. */
  bodies: readonly string[];
  connections: number;
  /** Seconds to run; ignored when `amount` is set. */
  durationSeconds?: number;
  /** Exactly this many requests, e.g. one per user to warm up. */
  amount?: number;
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
}

/**
 * Loads the exchange with autocannon: `connections` keep-alive connections, each request the next
 * user of the pool (one shared counter across connections, so consecutive requests are different
 * users and every user comes back once per lap of the pool).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { bodies } = options;
  let next = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.durationSeconds }),
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: EXCHANGE_PATH,
        headers: { 'content-type': 'application/json', 'x-api-key': options.apiKey },
        setupRequest: (request) => {
          request.body = bodies[next] as string;
          next = (next + 1) % bodies.length;
          return request;
        },
      },
    ],
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {}))
    statusCodes[code] = count ?? 0;
  const requests = result['2xx'] + result.non2xx;
  return {
    requests,
    durationSeconds: result.duration,
    requestsPerSecond: result.duration > 0 ? result['2xx'] / result.duration : 0,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
  };
}
