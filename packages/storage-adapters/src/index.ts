/**
 * The stores: `memoryStore`, `redisStore`, `sqlStore` (SQLite, PostgreSQL, MySQL/MariaDB), `keyvStore`, and `storeFromUrl`.
 * @packageDocumentation
 * @module @rialto-exchange/storage-adapters
 */
export type { KeyvLike, KeyvStoreOptions } from './keyv/keyv-store.js';
export { keyvStore } from './keyv/keyv-store.js';
export { memoryStore } from './memory/memory-store.js';
export type {
  RedisClusterCommandClient,
  RedisCommandClient,
  RedisConnection,
  RedisStore,
  RedisStoreOptions,
} from './redis/redis-store.js';
export { redisStore } from './redis/redis-store.js';
export type { SqlConnection } from './sql/sql-dialect.js';
export type { SqlStore, SqlStoreOptions, SqlStoreSettings } from './sql/sql-store.js';
export { sqlStore } from './sql/sql-store.js';
export type { ClosableStore, StoreFromUrlOptions } from './store-from-url.js';
export { storeFromUrl } from './store-from-url.js';
