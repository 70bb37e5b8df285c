import type { Store } from '@rialto-exchange/core';
import { parseOptions, strictOptions } from '@rialto-exchange/core/option-schema';
import { z } from 'zod';
import { memoryStore } from './memory/memory-store.js';
import { clusterRootNodes } from './redis/connection.js';
import { type RedisStoreOptions, redisStore } from './redis/redis-store.js';
import { type SqlStoreSettings, sqlStore } from './sql/sql-store.js';

/** A store opened from a URL: a `Store`, whose `close()` releases the connections it opened. */
export type ClosableStore = Store;

/** The prefix settings of the store the URL names; each store documents, checks and defaults its own. */
export interface StoreFromUrlOptions
  extends Pick<RedisStoreOptions, 'keyPrefix'>,
    Pick<SqlStoreSettings, 'tablePrefix'> {}

// The prefixes' own rules are the stores' to check; this only refuses what no store would read.
const storeFromUrlOptionsSchema = strictOptions({
  keyPrefix: z.string({ error: 'must be a string' }).optional(),
  tablePrefix: z.string({ error: 'must be a string' }).optional(),
});

/**
 * Opens the store a URL names, so deployments choose storage by configuration alone:
 *
 * | URL | store |
 * |---|---|
 * | `memory:` | `memoryStore()` |
 * | `sqlite:./data/rialto.db`, `sqlite:/abs/path.db` | `sqlStore({ dialect: 'sqlite' })` |
 * | `redis://…`, `rediss://…` | `redisStore()` |
 * | `redis+cluster://h1:p1,h2:p2`, `rediss+cluster://…` | `redisStore({ cluster })` on those nodes |
 * | `postgres://…`, `postgresql://…` | `sqlStore({ dialect: 'postgres' })` |
 * | `mysql://…`, `mariadb://…` | `sqlStore({ dialect: 'mysql' })` |
 *
 * @throws TypeError for any other URL; the message never repeats the URL, which may hold a password.
 * @example
 * app.use(rialtoExchange({ store: storeFromUrl(process.env.RIALTO_STORE ?? 'sqlite:./rialto.db') }));
 */
export function storeFromUrl(url: string, options: StoreFromUrlOptions = {}): ClosableStore {
  parseOptions(storeFromUrlOptionsSchema, options, 'storeFromUrl');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const sqlSettings = options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix };
  switch (scheme) {
    case 'memory':
      return memoryStore();
    case 'sqlite':
      return sqlStore({
        dialect: 'sqlite',
        filename: url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, ''),
        ...sqlSettings,
      });
    case 'redis':
    case 'rediss':
      return redisStore({ url }, options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix });
    case 'redis+cluster':
    case 'rediss+cluster':
      return redisStore(
        { cluster: { rootNodes: clusterRootNodes(url) } },
        options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix },
      );
    case 'postgres':
    case 'postgresql':
      return sqlStore({ dialect: 'postgres', connectionString: url, ...sqlSettings });
    case 'mysql':
    case 'mariadb':
      return sqlStore({
        dialect: 'mysql',
        connectionString: url.replace(/^mariadb:/i, 'mysql:'),
        ...sqlSettings,
      });
    default:
      throw new TypeError(
        'storeFromUrl: the URL must start with memory:, sqlite:, redis://, rediss://, redis+cluster://, rediss+cluster://, postgres://, mysql:// or mariadb://',
      );
  }
}
