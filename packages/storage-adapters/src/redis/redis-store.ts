import type { Store } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { parseOptions, positiveNumber, strictOptions } from '@rialto-exchange/core/option-schema';
import { z } from 'zod';
import { createConnector, type RedisConnection, type RedisSender } from './connection.js';
import { redisConsoleSessions } from './console-sessions.js';
import { createRedisContext } from './context.js';
import { rekeyIdentityClaims } from './identity-claim-migration.js';
import { redisKeys } from './key-layout.js';
import { redisSigningKeys } from './keys.js';
import { migrateLayout } from './layout-migration.js';
import { redisOrganizations } from './organizations.js';
import { redisOutbox } from './outbox.js';
import { redisRateLimits } from './rate-limit.js';
import { isUnavailable } from './redis-errors.js';
import { redisTokens } from './tokens.js';
import { redisUsers } from './users.js';
import { redisWebhooks } from './webhooks.js';

export type {
  RedisClusterCommandClient,
  RedisCommandClient,
  RedisConnection,
} from './connection.js';

const redisStoreOptionsShape = {
  /**
   * Prepended to every key, so several deployments (or tests) can share one database. On a Redis
   * Cluster it must not contain `{` or `}`, which would override the per-organization hash tags.
   * @default 'rialto:'
   */
  keyPrefix: z.string({ error: 'must be a string' }).default('rialto:'),
  /**
   * How long the first call waits for the connection the store opens from `url` before failing
   * with `StoreUnavailableError`. Ignored with `client`.
   * @default 5000
   */
  // Long enough for a TLS handshake to a managed Redis in another zone; short enough that a request
  // hitting an outage gets its 503 while the client is still waiting.
  connectTimeoutMs: positiveNumber().default(5_000),
  /**
   * Deadline of every store call, its commands' replies included (and the time a command waits in a
   * host client that buffers commands while offline); then the call fails with
   * `StoreUnavailableError`. Each step of the key-layout migration has this deadline too.
   * @default 5000
   */
  commandTimeoutMs: positiveNumber().default(5_000),
};

/**
 * Settings of `redisStore()`; every one has a default.
 *
 * @example
 * redisStore({ url }, { keyPrefix: 'exchange:', commandTimeoutMs: 2_000 });
 */
export interface RedisStoreOptions extends z.input<z.ZodObject<typeof redisStoreOptionsShape>> {}

const redisStoreOptionsSchema = strictOptions(redisStoreOptionsShape);

/**
 * A Redis-backed store, as returned by `redisStore()`: a `Store`, whose `migrate()` connects and
 * moves data of the first key layout, and whose `close()` closes the connection it opened from
 * `url` or `cluster` (a client passed in stays open).
 *
 * @example
 * const store: RedisStore = redisStore({ url: process.env.REDIS_URL });
 * process.once('SIGTERM', () => store.close());
 */
export type RedisStore = Store;

/**
 * A Store on Redis (standalone, a Sentinel-managed primary, or a Redis Cluster), shared safely by
 * any number of instances.
 *
 * Atomicity comes from Redis itself, never from read-then-write in this process: every multi-key
 * write and every check-then-write (find-or-create of users, refresh-token rotation with its
 * successor, ensure of signing keys) is one Lua script, which Redis runs without interleaving and
 * which a dropped connection cannot cut in half. Every script gets all its keys in `KEYS`, and the
 * keys of one call share a hash slot: an organization's data lives in one slot, a refresh-token
 * family's in another. The few global indexes (issuer to registrations, user id to org, delivery
 * id to org, orgs with due deliveries) are single keys written in a separate step, ordered so that
 * a failure between the steps only leaves an entry that reads as absent. Refresh tokens expire
 * with their `expiresAt` (plus a minute for clock skew); a family revocation is remembered for a
 * day, and the family's existing tokens are deleted at once.
 *
 * Data written by versions before the cluster-ready key layout is moved to it once, on the first
 * call after connecting to a standalone Redis (guarded by a version key and a lock, so one instance
 * does it); instances of an older version must not write to the same prefix meanwhile. Identities
 * that registrations on a claim other than `sub` stored before identities named their claim are
 * re-keyed once too, on a standalone Redis and a Redis Cluster alike.
 *
 * With `url` or `cluster`, the store connects on first use with `disableOfflineQueue`, so while
 * Redis is down every call fails at once with `StoreUnavailableError` (answered as 503) instead of
 * queueing, and reconnects in the background with capped backoff: no restart is needed once Redis
 * is back. With `client` or `clusterClient`, the host owns the connection; `commandTimeoutMs` still
 * bounds every call. Needs Redis 6 or later, and the `redis` package (v5) when `url` or `cluster`
 * is used.
 *
 * @example
 * import { redisStore } from '@rialto-exchange/storage-adapters';
 *
 * app.use(rialtoExchange({ issuer: 'https://api.example.com', store: redisStore({ url: process.env.REDIS_URL }) }));
 *
 * @example
 * // Sharing the host's client; the host connects it and closes it.
 * const client = await createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true }).connect();
 * const store = redisStore({ client }, { keyPrefix: 'exchange:' });
 *
 * @example
 * // A Redis Cluster, from some of its nodes.
 * const store = redisStore({ cluster: { rootNodes: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'] } });
 */
export function redisStore(connection: RedisConnection, options: RedisStoreOptions = {}): RedisStore {
  const {
    keyPrefix: prefix,
    connectTimeoutMs,
    commandTimeoutMs,
  } = parseOptions(redisStoreOptionsSchema, options, 'redisStore');
  const connector = createConnector(connection, connectTimeoutMs);
  if (connector.isCluster && /[{}]/.test(prefix)) {
    // The hash tag of a key is its first {…}: braces in the prefix would put every key in one slot.
    throw new TypeError('redisStore: `keyPrefix` must not contain { or } with a Redis Cluster');
  }
  const key = redisKeys(prefix);

  let sender: RedisSender | undefined;
  const runner = storeKit.createStoreRunner({
    backend: 'Redis',
    timeoutMs: commandTimeoutMs,
    isUnavailable,
    // Connects, moves a standalone database of the previous key layout to this one, and keys the
    // identities of non-`sub` registrations by their claim name.
    async migrate(step) {
      const connected = await connector.ready();
      sender = connected;
      const command = (args: string[]) => step((deadlineAt) => context.send(deadlineAt, args));
      // Moving keys needs a SCAN of every key, so only standalone databases change layout.
      if (!connector.isCluster) await migrateLayout(command, key, prefix, connectTimeoutMs);
      await rekeyIdentityClaims(command, key);
    },
    release: connector.close,
  });
  const context = createRedisContext({
    key,
    run: runner.run,
    isCluster: connector.isCluster,
    sender: () => sender as RedisSender,
    queuesUnwrittenCommands: connector.queuesUnwrittenCommands,
  });
  const outbox = redisOutbox(context);

  return {
    ...redisOrganizations(context),
    ...redisUsers(context, outbox),
    ...redisTokens(context),
    ...redisSigningKeys(context),
    ...redisWebhooks(context, outbox),
    ...redisRateLimits(context),
    ...redisConsoleSessions(context),
    migrate: runner.migrate,
    close: runner.close,
  };
}
