import { randomUUID } from 'node:crypto';
import { createKeyv } from '@keyv/redis';
import { keyvStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import { isServiceUp, REDIS_URL } from './services.js';

const NO_COMPARE_AND_SET = 'Keyv has no compare-and-set or multi-key transaction (see keyvStore TSDoc)';

if (await isServiceUp('Redis (for Keyv)', REDIS_URL)) {
  runStoreConformance(
    'keyvStore (@keyv/redis)',
    () => {
      const keyv = createKeyv(REDIS_URL, {
        namespace: `rialto-test-keyv-${randomUUID()}`,
        throwOnErrors: true,
      });
      return {
        store: keyvStore(keyv),
        cleanup: async () => {
          await keyv.clear();
          await keyv.disconnect();
        },
      };
    },
    {
      skip: {
        concurrentCreateOrganization: NO_COMPARE_AND_SET,
        concurrentAddApiKey: NO_COMPARE_AND_SET,
        concurrentFindOrCreate: NO_COMPARE_AND_SET,
        concurrentEmailLinking: NO_COMPARE_AND_SET,
        concurrentEnsureSigningKey: NO_COMPARE_AND_SET,
        concurrentUserVerification: NO_COMPARE_AND_SET,
        concurrentWebhookClaim: NO_COMPARE_AND_SET,
        concurrentCreateUser: NO_COMPARE_AND_SET,
      },
    },
  );
}
