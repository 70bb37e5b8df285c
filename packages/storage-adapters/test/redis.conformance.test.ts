import { redisStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import { createClient } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import { deleteKeys, type RedisAdminClient, uniqueKeyPrefix } from './redis-keys.js';
import { isServiceUp, REDIS_URL } from './services.js';

if (await isServiceUp('Redis', REDIS_URL)) {
  let admin: RedisAdminClient;
  beforeAll(async () => {
    admin = await createClient({ url: REDIS_URL }).connect();
  });
  afterAll(() => admin.close());

  runStoreConformance('redisStore', () => {
    const keyPrefix = uniqueKeyPrefix();
    const store = redisStore({ url: REDIS_URL }, { keyPrefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await deleteKeys(admin, keyPrefix);
      },
    };
  });
}
