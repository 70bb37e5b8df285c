import autocannon from 'autocannon';
import { type BenchEndpoint, EXCHANGE_PATH, OAUTH_TOKEN_PATH } from './protocol.js';

export interface LoadOptions {
  url: string;
  apiKey: string;
  /** The org, as the token endpoint's client_id (needed with `endpoint: 'oauth-token'`). */
  orgId?: string;
  /** @default 'exchange' */
  endpoint?: BenchEndpoint;
  /** Pre-built bodies (JSON, or forms for the token endpoint), one per user of the pool; requests rotate over them. */
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
        ...requestOf(options),
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

/** The path and headers of one request: the seed exchange's, or the token endpoint's with client_secret_basic. */
function requestOf(options: LoadOptions): { path: string; headers: Record<string, string> } {
  if (options.endpoint !== 'oauth-token') {
    return {
      path: EXCHANGE_PATH,
      headers: { 'content-type': 'application/json', 'x-api-key': options.apiKey },
    };
  }
  if (options.orgId === undefined)
    throw new TypeError('runLoad: the token endpoint needs orgId as client_id');
  const credentials = `${encodeURIComponent(options.orgId)}:${encodeURIComponent(options.apiKey)}`;
  return {
    path: OAUTH_TOKEN_PATH,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
    },
  };
}

/** The token endpoint's form for one ID token: an RFC 8693 token exchange. */
export function tokenExchangeForm(idToken: string): string {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: idToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
  }).toString();
}
