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

export function resolveHealthOptions(input: HealthOptions | false | undefined): ResolvedHealthOptions {
  if (input === false) return false;
  if (input !== undefined && (typeof input !== 'object' || input === null)) {
    throw new TypeError('createRialtoExchange: `health` must be an object or false');
  }
  const livePath = path('livePath', input?.livePath, DEFAULT_LIVE_PATH);
  const readyPath = path('readyPath', input?.readyPath, DEFAULT_READY_PATH);
  if (livePath === readyPath) {
    throw new TypeError('createRialtoExchange: `health.livePath` and `health.readyPath` must differ');
  }
  const readyTimeoutMs = input?.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  if (!Number.isFinite(readyTimeoutMs) || readyTimeoutMs <= 0) {
    throw new TypeError('createRialtoExchange: `health.readyTimeoutMs` must be a positive number');
  }
  return { livePath, readyPath, readyTimeoutMs };
}

function path(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^(?:\/[A-Za-z0-9._~-]+)+$/.test(value)) {
    throw new TypeError(
      `createRialtoExchange: \`health.${name}\` must be a path such as "${fallback}" (letters, digits, . _ ~ - between slashes)`,
    );
  }
  return value;
}
