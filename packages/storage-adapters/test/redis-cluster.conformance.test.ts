import { redisStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import { afterAll, beforeAll } from 'vitest';
import {
  CLUSTER_PROBE_URL,
  CLUSTER_ROOT_NODES,
  connectClusterAdmin,
  deleteClusterKeys,
  type RedisClusterAdmin,
} from './redis-cluster.js';
import { uniqueKeyPrefix } from './redis-keys.js';
import { isServiceUp } from './services.js';

// Start the cluster with `bash scripts/redis-cluster.sh` (CI does, from .ci/run).
if (await isServiceUp('Redis Cluster', CLUSTER_PROBE_URL)) {
  let admin: RedisClusterAdmin;
  beforeAll(async () => {
    admin = await connectClusterAdmin();
  });
  afterAll(() => admin.close());

  runStoreConformance('redisStore on a Redis Cluster', () => {
    const keyPrefix = uniqueKeyPrefix();
    const store = redisStore({ cluster: { rootNodes: CLUSTER_ROOT_NODES } }, { keyPrefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await deleteClusterKeys(admin, keyPrefix);
      },
    };
  });
}
