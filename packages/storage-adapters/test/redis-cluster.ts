import { createCluster } from 'redis';
import { clusterRootNodes } from '../src/redis/connection.js';
import { REDIS_CLUSTER_URL } from './services.js';

export type RedisClusterAdmin = ReturnType<typeof createCluster>;

/** The cluster's root nodes, and the first one, which `isServiceUp` probes. */
export const CLUSTER_ROOT_NODES = clusterRootNodes(REDIS_CLUSTER_URL);
export const CLUSTER_PROBE_URL = CLUSTER_ROOT_NODES[0] as string;

export function connectClusterAdmin(): Promise<RedisClusterAdmin> {
  return createCluster({ rootNodes: CLUSTER_ROOT_NODES.map((url) => ({ url })) }).connect();
}

/** Deletes every key under `prefix` on every primary, so a test leaves the cluster as it found it. */
export async function deleteClusterKeys(admin: RedisClusterAdmin, prefix: string): Promise<void> {
  for (const master of admin.masters) {
    const node = await admin.nodeClient(master);
    for await (const keys of node.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const key of keys) await admin.unlink(key);
    }
  }
}

/**
 * The primaries (host:port) that really hold `key`, by scanning each one: a key command would only
 * be redirected (MOVED) to the owner the client already assumes.
 */
export async function holdersOf(admin: RedisClusterAdmin, key: string): Promise<string[]> {
  const holders: string[] = [];
  const pattern = key.replace(/[*?[\]\\]/g, '\\$&');
  for (const master of admin.masters) {
    const node = await admin.nodeClient(master);
    for await (const keys of node.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
      if (keys.includes(key)) holders.push(`${master.host}:${master.port}`);
    }
  }
  return holders;
}
