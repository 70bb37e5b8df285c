/**
 * What the driver (bench/run.ts) and the target processes (bench/targets/*.ts) tell each other.
 *
 * A target is configured through environment variables, prints one `BENCH_READY <json>` line on
 * stdout once it listens, answers `'stats'` messages on its IPC channel and exits on `'stop'`,
 * SIGTERM, or when the driver goes away.
 */

/** The route every target serves: the exchange's own path. */
export const EXCHANGE_PATH = '/identity/auth/exchange';
/** The OAuth token endpoint of the same targets (RFC 8693 token exchange over the same pipeline). */
export const OAUTH_TOKEN_PATH = '/oauth/token';
/** Which way in a target's load takes: the seed exchange, or the token endpoint. */
export type BenchEndpoint = 'exchange' | 'oauth-token';
export const READY_PREFIX = 'BENCH_READY ';

export const ACCESS_TOKEN_TTL_SECONDS = 300;
export const REFRESH_TOKEN_TTL_SECONDS = 1800;
/** What a target puts in `iss` of the tokens it mints. */
export const SERVICE_ISSUER = 'http://localhost:3000';
/** Every access token names this audience; scope follows from it. */
export const AUDIENCE = ['identity'];
export const SCOPE = 'openid email profile aud:identity';
export const ORG_NAME = 'Bench Partner';

/** One organization a target serves: a partner IdP and the API key its backend sends. */
export interface BenchOrg {
  issuer: string;
  orgId: string;
  apiKey: string;
}

export interface ReadyMessage {
  port: number;
  pid: number;
  orgs: BenchOrg[];
  /** What the target is (e.g. the store behind it), for the report. */
  description: string;
}

export interface MemoryReport {
  rss: number;
  heapUsed: number;
  external: number;
}

/** A target's answer to the driver's `'stats'` message. */
export interface TargetStats {
  memory: MemoryReport;
  /** CPU time of the whole process (main thread and libuv pool, where WebCrypto signs), microseconds. */
  cpuMicros: number;
  /** Time the main thread spent running JavaScript and native callbacks (event-loop utilization), microseconds. */
  mainThreadMicros: number;
}

/** Env: JSON array of issuers the target serves (rialto registers them itself). */
export const ENV_ISSUERS = 'BENCH_ISSUERS';
/**
 * Env: JSON array of `BenchOrg` a rialto worker serves as they are, already registered in the
 * shared store by its cluster's primary (rialto-cluster.ts), instead of registering its issuers.
 */
export const ENV_REGISTERED_ORGS = 'BENCH_REGISTERED_ORGS';
/** Env: how many processes rialto-cluster.ts forks. */
export const ENV_PROCESSES = 'BENCH_PROCESSES';
/** Env: JSON `BenchOrg` for targets that do not register organizations (floor, naive). */
export const ENV_ORG = 'BENCH_ORG';
/** Env: JWKS URL of the partner IdP, for targets that do not run discovery (floor, naive). */
export const ENV_JWKS_URI = 'BENCH_JWKS_URI';
/** Env: which store the rialto target uses: memory, redis, postgres or sqlite. */
export const ENV_STORE = 'BENCH_STORE';
/** Env: refresh-token lifetime for the rialto target (bench/memory.ts shortens it); the library's default otherwise. */
export const ENV_REFRESH_TTL_SECONDS = 'BENCH_REFRESH_TTL_SECONDS';
/** `1`: the target records Prometheus metrics (on its own registry) as a host enabling them would. */
export const ENV_METRICS = 'BENCH_METRICS';
/**
 * `1`: the target registers its organizations with an exchange policy, a condition and two claim
 * mappings that hold for every bench token (`BENCH_POLICY`), so the same load measures the policy's cost.
 */
export const ENV_POLICY = 'BENCH_POLICY';
/** The policy `BENCH_POLICY` registers: a condition every bench user meets, and two mappings. */
export const BENCH_POLICY = {
  condition: 'claims.email_verified == true && claims.email.endsWith("@bench.example")',
  claim_mappings: { partner_subject: 'claims.sub', partner_verified: 'claims.email_verified' },
} as const;

export function readJsonEnv<T>(name: string): T {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return JSON.parse(value) as T;
}

export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  scope: string;
}
