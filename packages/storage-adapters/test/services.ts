import { connect } from 'node:net';
import { it } from 'vitest';

/** Local services the adapter tests run against; override with environment variables. */
export const REDIS_URL = process.env.RIALTO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL = process.env.RIALTO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** A Redis Cluster, as `scripts/redis-cluster.sh` starts one (CI runs it from `.ci/run`). */
export const REDIS_CLUSTER_URL =
  process.env.RIALTO_TEST_REDIS_CLUSTER_URL ?? 'redis+cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103';
export const MYSQL_URL = process.env.RIALTO_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

const PROBE_TIMEOUT_MS = 2_000;
const DEFAULT_PORTS: Record<string, number> = { 'redis:': 6379, 'postgres:': 5432, 'mysql:': 3306 };

/**
 * Whether the service behind `url` accepts TCP connections. When it does not, the test file is
 * skipped with a loud warning on a developer machine, and fails under `CI=true`, where a missing
 * service means the run proves nothing.
 */
export async function isServiceUp(name: string, url: string): Promise<boolean> {
  const { hostname, protocol, port: explicitPort } = new URL(url);
  const port = Number(explicitPort) || DEFAULT_PORTS[protocol];
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: hostname, port: port ?? 0, timeout: PROBE_TIMEOUT_MS });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('timeout', () => socket.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
      socket.once('error', reject);
    });
    return true;
  } catch (error) {
    if (process.env.CI === 'true') {
      throw new Error(`${name} at ${hostname}:${port} is unreachable and CI=true: start it, do not skip`, {
        cause: error,
      });
    }
    console.warn(
      `\n${'!'.repeat(80)}\n!! ${name} at ${hostname}:${port} is unreachable: its tests are SKIPPED.\n!! ${String(error)}\n${'!'.repeat(80)}\n`,
    );
    it.skip(`${name} is unreachable at ${hostname}:${port}`, () => {});
    return false;
  }
}
