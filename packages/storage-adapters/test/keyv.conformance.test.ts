import { randomUUID } from 'node:crypto';
import { createKeyv } from '@keyv/redis';
import { keyvStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import { isServiceUp, REDIS_URL } from './services.js';

if (await isServiceUp('Redis (for Keyv)', REDIS_URL)) {
  // One process: the store serializes its writes per key, so no guarantee is skipped.
  runStoreConformance('keyvStore (@keyv/redis, one process)', () => {
    const keyv = createKeyv(REDIS_URL, {
      namespace: `rialto-test-keyv-${randomUUID()}`,
      throwOnErrors: true,
    });
    return {
      store: keyvStore(keyv, { sharedBetweenProcesses: false }),
      cleanup: async () => {
        await keyv.clear();
        await keyv.disconnect();
      },
    };
  });
}
