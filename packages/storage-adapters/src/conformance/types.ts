import type { Store } from '@rialto-exchange/core';

/**
 * A guarantee under concurrency that an adapter may declare it cannot give. Each one names a group
 * of conformance cases that are then skipped, with the reason printed beside them.
 *
 * @example
 * const skip: Partial<Record<ConformanceGuarantee, string>> = { concurrentRotate: 'no atomic delete' };
 */
export type ConformanceGuarantee =
  /** Concurrent `createOrganization` calls with one issuer: exactly one succeeds. */
  | 'concurrentCreateOrganization'
  /** Concurrent `addIssuerRegistration` calls claiming one (issuer, client id): exactly one succeeds. */
  | 'concurrentIssuerRegistration'
  /** Concurrent `addApiKey` calls for one organization: every key is kept. */
  | 'concurrentAddApiKey'
  /** Concurrent `findOrCreateUser` calls for one identity: exactly one user is created. */
  | 'concurrentFindOrCreate'
  /** Concurrent `findOrCreateUser` calls for one email with different identities: one user, linked. */
  | 'concurrentEmailLinking'
  /** Concurrent `rotateRefreshToken` calls for one token: exactly one stores its successor. */
  | 'concurrentRotate'
  /** Concurrent `consumeOnce` calls for one key: exactly one gets `true`. */
  | 'concurrentConsumeOnce'
  /** Concurrent `ensureSigningKey` calls on an empty store: all get the same key back. */
  | 'concurrentEnsureSigningKey'
  /** Concurrent `updateUserVerification` calls from one state: exactly one is applied. */
  | 'concurrentUserVerification'
  /** Concurrent `claimWebhookDeliveries` calls: no delivery is handed to two callers. */
  | 'concurrentWebhookClaim'
  /** `createUser` calls racing for one email create one user. */
  | 'concurrentCreateUser';

/**
 * A store under test and how to dispose of what was created for it.
 *
 * @example
 * const underTest: StoreUnderTest = { store, cleanup: () => store.close() };
 */
export interface StoreUnderTest {
  store: Store;
  /** Called after the test, pass or fail: drop the tables, keys or files made for this store. */
  cleanup?: () => Promise<void> | void;
}

/**
 * Makes a fresh store that shares nothing with any other store it made (its own key prefix,
 * table prefix, schema or file), so each test starts empty.
 *
 * @example
 * const makeStore: MakeStore = () => {
 *   const keyPrefix = `test:${randomUUID()}:`;
 *   const store = redisStore({ url }, { keyPrefix });
 *   return { store, cleanup: async () => { await store.close(); await deleteKeysUnder(keyPrefix); } };
 * };
 */
export type MakeStore = () => Promise<StoreUnderTest> | StoreUnderTest;

/**
 * What an adapter declares to `runStoreConformance()`.
 *
 * @example
 * runStoreConformance('myStore', makeStore, { skip: { concurrentFindOrCreate: 'no compare-and-set' } });
 */
export interface StoreConformanceOptions {
  /**
   * Guarantees the adapter cannot give, each with the reason. The matching cases are skipped and
   * labelled with the reason instead of failing; every other case still runs.
   * @default {}
   */
  skip?: Partial<Record<ConformanceGuarantee, string>>;
}
