import type {
  ApiKeyRecord,
  FindOrCreateUserResult,
  IssuerRegistrationConflict,
  IssuerRegistrationRecord,
  OrganizationRecord,
  RefreshTokenRecord,
  RotateRefreshTokenResult,
  SigningKeyRecord,
  Store,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { parseOptions, positiveNumber, strictOptions } from '@rialto-exchange/core/option-schema';
import calculateSlot from 'cluster-key-slot';
import { z } from 'zod';
import { createBatcher } from '../internal/batcher.js';
import { withDeadline } from '../internal/deadline.js';
import { parseUser } from '../internal/json-records.js';
import {
  DELIVERY_RETENTION_SECONDS,
  EXPIRY_MARGIN_SECONDS,
  epochSeconds,
  FAMILY_REVOCATION_MIN_SECONDS,
  secondsToKeep,
} from '../internal/retention.js';
import { createConnector, type RedisConnection, type RedisSender } from './connection.js';
import { redisKeys } from './keys.js';
import { migrateLayout } from './layout-migration.js';
import { isNoScriptReply, toStoreError } from './redis-errors.js';
import {
  ADD_API_KEY,
  ADD_DELIVERY,
  CLAIM_DELIVERIES,
  CLAIM_ISSUER_REGISTRATION,
  COMPLETE_DELIVERY,
  CONSUME_ONCE,
  CREATE_ORGANIZATION,
  CREATE_USER,
  DELETE_ORGANIZATION,
  DELETE_SUBSCRIPTION,
  DELETE_USER,
  DROP_ORPHANED_REGISTRATIONS,
  DROP_STALE_ISSUER_CLAIMS,
  ENQUEUE_WEBHOOK_EVENTS,
  ENSURE_SIGNING_KEY,
  FIND_OR_CREATE_USER,
  FIND_USERS_BY_IDENTITY,
  HIT_RATE_LIMIT,
  LIST_API_KEYS,
  LIST_DELIVERIES,
  LOWER_DUE_ORG,
  type LuaScript,
  READ_ORGANIZATION,
  READ_SUBSCRIPTIONS,
  REGISTRATIONS_ON_ORG_SIDE,
  REVOKE_API_KEY,
  REVOKE_REFRESH_TOKEN_FAMILY,
  ROTATE_REFRESH_TOKEN,
  SAVE_REFRESH_TOKENS,
  SET_USER_ROLE,
  UPDATE_ORGANIZATION,
  UPDATE_USER_VERIFICATION,
  WRITE_SUBSCRIPTION,
} from './scripts.js';

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
   * How long any command may wait for its reply, including time spent queued in a host client that
   * buffers commands while offline; then the call fails with `StoreUnavailableError`.
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
 * A Redis-backed store, as returned by `redisStore()`.
 *
 * @example
 * const store: RedisStore = redisStore({ url: process.env.REDIS_URL });
 * process.once('SIGTERM', () => store.close());
 */
export interface RedisStore extends Store {
  /** Closes the connection the store opened from `url`; a client passed in stays open. */
  close(): Promise<void>;
}

// Calls batched into one script call (each brings at most 2 keys and 3 arguments).
const MAX_BATCH = 100;
// Hash fields HSCAN looks at per call: a bounded amount of work per round trip.
const SCAN_COUNT = 1000;

const ORGANIZATION_FIELDS = [
  'orgId',
  'name',
  'audience',
  'provisioning',
  'suspendedAt',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof OrganizationRecord)[];

/** A batched call: the keys and arguments one item adds to the script call of its slot. */
interface BatchItem {
  keys: string[];
  args: string[];
}

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
 * does it); instances of an older version must not write to the same prefix meanwhile.
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
  // node-redis arms an AbortSignal.timeout per command for this, which costs more than the command's
  // own work on the client: only pay it where a command can wait unwritten.
  const writeTimeout = connector.queuesUnwrittenCommands ? { timeout: commandTimeoutMs } : undefined;
  const key = redisKeys(prefix);

  function request(sender: RedisSender, firstKey: string | undefined, args: string[]): Promise<unknown> {
    // node-redis's own `timeout` only covers the time a command waits to be written (it then drops
    // the command, so a call that failed is not run later); the deadline covers waiting for the reply.
    return withDeadline(
      sender(firstKey, args, writeTimeout),
      commandTimeoutMs,
      () => new Error(`Redis did not reply within ${commandTimeoutMs} ms`),
    );
  }

  // Standalone databases of the previous key layout move to this one before the first call.
  let layoutReady: Promise<void> | undefined;
  let isLayoutReady = connector.isCluster;
  async function ready(): Promise<RedisSender> {
    const sender = await connector.ready();
    if (isLayoutReady) return sender;
    layoutReady ??= migrateLayout(
      (args) => request(sender, undefined, args),
      key,
      prefix,
      connectTimeoutMs,
    ).then(
      () => {
        isLayoutReady = true;
      },
      (error: unknown) => {
        layoutReady = undefined;
        throw error;
      },
    );
    await layoutReady;
    return sender;
  }

  /** One command; `args[1]` is its key (every command the store sends names its key first). */
  async function send(args: string[]): Promise<unknown> {
    const sender = await ready().catch((error: unknown) => {
      throw toStoreError(error);
    });
    try {
      return await request(sender, args[1], args);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  async function run(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    const sender = await ready().catch((error: unknown) => {
      throw toStoreError(error);
    });
    try {
      try {
        return await request(sender, keys[0], ['EVALSHA', script.sha1, ...tail]);
      } catch (error) {
        // First use of the script on this server (or after SCRIPT FLUSH / a restart): EVAL caches it.
        if (!isNoScriptReply(error)) throw error;
        return await request(sender, keys[0], ['EVAL', script.source, ...tail]);
      }
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /**
   * Runs `script` once per hash slot over the items (once in all on a standalone Redis), so a batch
   * never mixes slots; answers each item's reply (`perItem` replies per call are in item order).
   */
  async function runBatch(script: LuaScript, items: readonly BatchItem[]): Promise<unknown[]> {
    const groups = new Map<number, number[]>();
    items.forEach((item, index) => {
      const slot = connector.isCluster ? calculateSlot(item.keys[0] as string) : 0;
      const group = groups.get(slot);
      if (group) group.push(index);
      else groups.set(slot, [index]);
    });
    const replies: unknown[] = new Array(items.length);
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const reply = await run(
          script,
          indexes.flatMap((index) => (items[index] as BatchItem).keys),
          indexes.flatMap((index) => (items[index] as BatchItem).args),
        );
        indexes.forEach((itemIndex, position) => {
          replies[itemIndex] = (reply as unknown[])[position];
        });
      }),
    );
    return replies;
  }

  // Every exchange saves a refresh token: saves that arrive together go out as one call per slot.
  // A batch applies whole or fails whole per slot; a failed slot fails every save of the batch.
  const saveRefreshTokens = createBatcher<BatchItem>(async (saves) => {
    await runBatch(SAVE_REFRESH_TOKENS, saves);
    return undefined;
  }, MAX_BATCH);

  // Nearly every exchange is a returning user: lookups that arrive together go out as one read-only
  // call per slot, and only identities it does not find take the find-or-create script.
  const findUserByIdentity = createBatcher<BatchItem, string | null>(async (lookups) => {
    const users = await runBatch(FIND_USERS_BY_IDENTITY, lookups);
    return users.map((user) => (typeof user === 'string' ? user : null));
  }, MAX_BATCH);

  function apiKeyArgs(record: ApiKeyRecord): string[] {
    const { revokedAt, ...stored } = record;
    return [record.keyId, JSON.stringify(stored), revokedAt === null ? '' : String(revokedAt)];
  }

  interface Outbox {
    keys: string[];
    args: string[];
    /** The earliest due time of the deliveries it writes, or null when it writes none. */
    earliestDue: number | null;
    deliveryIds: string[];
  }

  /** Outbox keys and arguments telling a script that deliveries were not computed. */
  function unpreparedOutbox(orgId: string): Outbox {
    const keys = key.org(orgId);
    return {
      keys: [keys.subscriptionsVersion, keys.deliveries, keys.dueDeliveries],
      args: ['-1', '0'],
      earliestDue: null,
      deliveryIds: [],
    };
  }

  /** The deliveries of one org's `events` and the outbox that writes them if no subscription changed meanwhile. */
  async function outboxOf(orgId: string, events: readonly WebhookEventRecord[]): Promise<Outbox> {
    if (events.some((event) => event.orgId !== orgId)) {
      throw new Error('redisStore: the events of one write must belong to its organization');
    }
    const keys = key.org(orgId);
    const [version, stored] = (await run(
      READ_SUBSCRIPTIONS,
      [keys.subscriptions, keys.subscriptionsVersion],
      [],
    )) as [string, string[]];
    const subscriptions = stored.map((json) => JSON.parse(json) as WebhookSubscriptionRecord);
    const deliveries = storeKit.webhookDeliveriesFor(events, () => subscriptions);
    const listIds = [...new Set(deliveries.map((delivery) => delivery.subscriptionId))];
    return {
      keys: [
        keys.subscriptionsVersion,
        keys.deliveries,
        keys.dueDeliveries,
        ...listIds.map((id) => keys.subscriptionDeliveries(id)),
      ],
      args: [
        version,
        String(deliveries.length),
        ...deliveries.flatMap((delivery) => [
          delivery.deliveryId,
          String(listIds.indexOf(delivery.subscriptionId) + 1),
          JSON.stringify(delivery),
          String(delivery.nextAttemptAt),
        ]),
      ],
      earliestDue:
        deliveries.length === 0
          ? null
          : Math.min(...deliveries.map((delivery) => delivery.nextAttemptAt ?? 0)),
      deliveryIds: deliveries.map((delivery) => delivery.deliveryId),
    };
  }

  /** Makes the org findable by claimers from `due` on (global index, see keys.ts). */
  async function markDue(orgId: string, due: number): Promise<void> {
    await run(LOWER_DUE_ORG, [key.dueOrgs], [String(due), orgId]);
  }

  /**
   * Runs a script that ends in the outbox of `orgId`, again while it answers 'retry' (a
   * subscription changed). Global index entries of new deliveries are written before the script
   * (so a failure after it leaves none unfindable) and the org's due mark again after it (so a
   * claimer that cleared the mark meanwhile cannot lose them).
   */
  async function withOutbox<T>(
    orgId: string,
    events: () => readonly WebhookEventRecord[],
    attempt: (outbox: Outbox) => Promise<T | 'retry'>,
    { isLazy = false } = {},
  ): Promise<T> {
    for (let attempts = 1; ; attempts++) {
      const outbox = isLazy && attempts === 1 ? unpreparedOutbox(orgId) : await outboxOf(orgId, events());
      await Promise.all(outbox.deliveryIds.map((id) => send(['SET', key.deliveryOrg(id), orgId])));
      if (outbox.earliestDue !== null) await markDue(orgId, outbox.earliestDue);
      const result = await attempt(outbox);
      if (result !== 'retry') {
        if (outbox.earliestDue !== null) await markDue(orgId, outbox.earliestDue);
        return result;
      }
      if (attempts >= MAX_OUTBOX_ATTEMPTS) {
        throw new Error('redisStore: subscriptions kept changing while recording webhook events');
      }
    }
  }

  async function writeSubscription(
    orgId: string,
    subscriptionId: string,
    expected: string,
    record: WebhookSubscriptionRecord,
  ): Promise<boolean> {
    const keys = key.org(orgId);
    const reply = await run(
      WRITE_SUBSCRIPTION,
      [keys.subscriptions, keys.subscriptionsVersion],
      [subscriptionId, expected, JSON.stringify(record)],
    );
    return reply === 1;
  }

  /**
   * The issuer's side of a registration, written after the org's side: answers the conflict (the
   * caller then takes the org's side back) or 'added'. Entries of the issuer's index that lost their
   * org's copy (a crash, or a claim racing deleteOrganization) do not count: a conflict first drops
   * them and claims again, so a leftover never keeps an issuer or its client ids taken.
   */
  async function claimIssuer(
    record: IssuerRegistrationRecord,
  ): Promise<'added' | IssuerRegistrationConflict> {
    const issuerKey = key.issuerRegistrations(record.issuer);
    for (let attempts = 1; ; attempts++) {
      const reply = (await run(
        CLAIM_ISSUER_REGISTRATION,
        [issuerKey],
        [record.orgId, record.registrationId, JSON.stringify(record), JSON.stringify(record.clientIds)],
      )) as 'added' | IssuerRegistrationConflict;
      if (reply === 'added' || attempts >= MAX_CLAIM_ATTEMPTS) return reply;
      const { stale } = await checkOrgSides((await send(['HVALS', issuerKey])) as string[]);
      if (stale.length === 0) return reply;
      await dropStaleClaims(issuerKey, stale);
    }
  }

  /** Index entries as read, split by whether their org still holds its copy (keys.ts). */
  async function checkOrgSides(
    jsons: readonly string[],
  ): Promise<{ live: IssuerRegistrationRecord[]; stale: IndexEntry[] }> {
    const byOrg = new Map<string, IndexEntry[]>();
    for (const json of jsons) {
      const record = JSON.parse(json) as IssuerRegistrationRecord;
      const entries = byOrg.get(record.orgId);
      if (entries) entries.push({ json, record });
      else byOrg.set(record.orgId, [{ json, record }]);
    }
    const live: IssuerRegistrationRecord[] = [];
    const stale: IndexEntry[] = [];
    // One call per org: each org's copies live in its own slot.
    await Promise.all(
      [...byOrg].map(async ([orgId, entries]) => {
        const keys = key.org(orgId);
        const found = (await run(
          REGISTRATIONS_ON_ORG_SIDE,
          [keys.organization, keys.registrations],
          entries.map((entry) => entry.record.registrationId),
        )) as number[];
        entries.forEach((entry, index) => {
          if (found[index] === 1) live.push(entry.record);
          else stale.push(entry);
        });
      }),
    );
    return { live, stale };
  }

  /**
   * Drops index entries judged stale, then what a claim racing deleteOrganization wrote back on the
   * side of the deleted org, in the order removeIssuerRegistration uses: the issuer's side first.
   */
  async function dropStaleClaims(issuerKey: string, stale: readonly IndexEntry[]): Promise<void> {
    await run(
      DROP_STALE_ISSUER_CLAIMS,
      [issuerKey],
      stale.flatMap((entry) => [entry.record.registrationId, entry.json]),
    );
    const orgIds = new Set(stale.map((entry) => entry.record.orgId));
    await Promise.all(
      [...orgIds].map((orgId) => {
        const keys = key.org(orgId);
        return run(
          DROP_ORPHANED_REGISTRATIONS,
          [keys.organization, keys.registrations],
          stale.filter((entry) => entry.record.orgId === orgId).map((entry) => entry.record.registrationId),
        );
      }),
    );
  }

  async function listIssuerRegistrations(orgId: string): Promise<IssuerRegistrationRecord[]> {
    const records = (await send(['HVALS', key.org(orgId).registrations])) as string[];
    return storeKit.sortedBy(
      records.map((json) => JSON.parse(json)),
      storeKit.oldestRegistrationFirst,
    );
  }

  async function removeIssuerRegistration(orgId: string, registrationId: string): Promise<boolean> {
    const registrations = key.org(orgId).registrations;
    const json = await send(['HGET', registrations, registrationId]);
    if (typeof json !== 'string') return false;
    const { issuer } = JSON.parse(json) as IssuerRegistrationRecord;
    // The issuer's side first: from then on no token resolves to the org through it.
    await send(['HDEL', key.issuerRegistrations(issuer), registrationId]);
    return (await send(['HDEL', registrations, registrationId])) === 1;
  }

  /** The identity-link fields of an org that name `userId`, by HSCAN: it never blocks Redis. */
  async function identitiesOf(orgId: string, userId: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, entries] = (await send([
        'HSCAN',
        key.org(orgId).identities,
        cursor,
        'COUNT',
        String(SCAN_COUNT),
      ])) as [string, string[]];
      cursor = next;
      for (let index = 0; index < entries.length; index += 2) {
        if (entries[index + 1] === userId) found.push(entries[index] as string);
      }
    } while (cursor !== '0');
    return found;
  }

  /** Deletes single-key global index entries; each may live on its own node. */
  async function deleteIndexEntries(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((entry) => send(['UNLINK', entry])));
  }

  return {
    async createOrganization(org, firstKey, firstIssuer) {
      const keys = key.org(org.orgId);
      await run(
        CREATE_ORGANIZATION,
        [keys.organization, keys.apiKeys, keys.revokedApiKeys, keys.registrations],
        [
          ...apiKeyArgs(firstKey),
          firstIssuer.registrationId,
          JSON.stringify(firstIssuer),
          ...organizationPairs(org),
        ],
      );
      // The org's side first, so a concurrent claimer checking this claim finds its org (keys.ts).
      // If this process stops here, the org exists with a registration no token reaches and an API
      // key nobody was shown, but holds no claim: a retry with the same issuer succeeds.
      const claim = await claimIssuer(firstIssuer);
      if (claim === 'added') return 'created';
      await send(['DEL', keys.organization, keys.apiKeys, keys.revokedApiKeys, keys.registrations]);
      return claim === 'duplicate' ? 'issuer_taken' : claim;
    },

    async getOrganization(orgId) {
      return organizationFromPairs(await run(READ_ORGANIZATION, [key.org(orgId).organization], []));
    },

    async addIssuerRegistration(record) {
      const registrations = key.org(record.orgId).registrations;
      const added = await send(['HSETNX', registrations, record.registrationId, JSON.stringify(record)]);
      if (added !== 1) return 'duplicate';
      const claim = await claimIssuer(record);
      if (claim !== 'added') await send(['HDEL', registrations, record.registrationId]);
      return claim;
    },

    listIssuerRegistrations,

    async findIssuerRegistrations(issuer) {
      const stored = (await send(['HVALS', key.issuerRegistrations(issuer)])) as string[];
      if (stored.length === 0) return [];
      // Leftovers read as absent; the next conflicting claim drops them.
      const { live } = await checkOrgSides(stored);
      return storeKit.sortedBy(live, storeKit.oldestRegistrationFirst);
    },

    removeIssuerRegistration,

    async updateOrganization(orgId, patch, now) {
      return organizationFromPairs(
        await run(
          UPDATE_ORGANIZATION,
          [key.org(orgId).organization],
          organizationPairs({ ...patch, updatedAt: now }),
        ),
      );
    },

    async addApiKey(record) {
      const keys = key.org(record.orgId);
      await run(ADD_API_KEY, [keys.apiKeys, keys.revokedApiKeys], apiKeyArgs(record));
    },

    async listActiveApiKeys(orgId) {
      const keys = key.org(orgId);
      const [stored, revoked] = (await run(LIST_API_KEYS, [keys.apiKeys, keys.revokedApiKeys], [])) as [
        string[],
        string[],
      ];
      const revokedIds = new Set(revoked);
      return storeKit.sortedBy(
        stored
          .map((json): ApiKeyRecord => ({ ...JSON.parse(json), revokedAt: null }))
          .filter((record) => !revokedIds.has(record.keyId)),
        storeKit.oldestApiKeyFirst,
      );
    },

    async revokeApiKey(orgId, keyId, now) {
      const keys = key.org(orgId);
      const reply = await run(REVOKE_API_KEY, [keys.apiKeys, keys.revokedApiKeys], [keyId, String(now)]);
      return reply === 1;
    },

    async findOrCreateUser(input): Promise<FindOrCreateUserResult> {
      const keys = key.org(input.orgId);
      const identity = key.identityField(input.iss, input.sub);
      const linked = await findUserByIdentity({ keys: [keys.identities, keys.users], args: [identity] });
      if (linked !== null) return { outcome: 'existing', user: parseUser(linked) };
      const created = input.newUser;
      const [outcome, json] = await withOutbox(
        input.orgId,
        // Read only if the first attempt asks for a retry: the events may be built on demand.
        () => input.eventsIfCreated ?? [],
        async (outbox) => {
          // Creating is only possible with a prepared outbox; the user id index goes first.
          if (outbox.args[0] !== '-1') await send(['SET', key.userOrg(created.userId), input.orgId]);
          const reply = (await run(
            FIND_OR_CREATE_USER,
            [keys.identities, keys.emails, keys.users, ...outbox.keys],
            [
              identity,
              input.email,
              `${input.mayLinkByEmail ? '1' : '0'}${input.mayCreate === false ? '0' : '1'}`,
              created.userId,
              JSON.stringify(created),
              ...outbox.args,
            ],
          )) as [FindOrCreateUserResult['outcome'] | 'retry', string | null | undefined];
          return reply[0] === 'retry'
            ? 'retry'
            : (reply as [FindOrCreateUserResult['outcome'], string | null | undefined]);
          // Most calls find an existing user and need no deliveries: try without the snapshot first.
        },
        { isLazy: true },
      );
      if (outcome === 'conflict' || outcome === 'not_provisioned') return { outcome };
      if (typeof json !== 'string')
        throw new Error(`redisStore: an identity or email index points to a missing user`);
      return { outcome, user: parseUser(json) };
    },

    async getUser(orgId, userId) {
      const json = await send(['HGET', key.org(orgId).users, userId]);
      if (typeof json !== 'string') return null;
      const user = parseUser(json);
      return user.orgId === orgId ? user : null;
    },

    async getUserById(userId) {
      const orgId = await send(['GET', key.userOrg(userId)]);
      if (typeof orgId !== 'string') return null;
      const json = await send(['HGET', key.org(orgId).users, userId]);
      return typeof json === 'string' ? parseUser(json) : null;
    },

    async updateUserVerification(input) {
      const { expected, next } = input;
      const [outcome, json] = await withOutbox(
        input.orgId,
        () => input.events,
        async (outbox) => {
          const reply = (await run(
            UPDATE_USER_VERIFICATION,
            [key.org(input.orgId).users, ...outbox.keys],
            [
              input.userId,
              input.orgId,
              expected.onboardingCompleted ? '1' : '0',
              expected.kycStatus,
              expected.accreditationStatus,
              next.onboardingCompleted ? '1' : '0',
              next.kycStatus,
              next.accreditationStatus,
              String(input.now),
              ...outbox.args,
            ],
          )) as ['updated' | 'stale' | 'not_found' | 'retry', string?];
          return reply[0] === 'retry' ? 'retry' : reply;
        },
      );
      if (outcome === 'not_found') return { outcome };
      return { outcome: outcome as 'updated' | 'stale', user: parseUser(json as string) };
    },

    async createUser({ user, events }) {
      const keys = key.org(user.orgId);
      await send(['SET', key.userOrg(user.userId), user.orgId]);
      return withOutbox(
        user.orgId,
        () => events,
        async (outbox) =>
          (await run(
            CREATE_USER,
            [keys.emails, keys.users, ...outbox.keys],
            [user.email, user.userId, JSON.stringify(user), ...outbox.args],
          )) as 'created' | 'email_taken' | 'retry',
      );
    },

    async deleteUser({ orgId, userId, events }) {
      const keys = key.org(orgId);
      const json = await send(['HGET', keys.users, userId]);
      const user = typeof json === 'string' ? parseUser(json) : null;
      if (!user || user.orgId !== orgId) return false;
      const identities = await identitiesOf(orgId, userId);
      const outcome = await withOutbox(
        orgId,
        () => events,
        async (outbox) =>
          (await run(
            DELETE_USER,
            [keys.users, keys.emails, keys.identities, ...outbox.keys],
            [userId, orgId, user.email, JSON.stringify(identities), ...outbox.args],
          )) as 'deleted' | 'not_found' | 'retry',
      );
      // The user id index after the user: a failure here leaves an entry naming no user.
      if (outcome === 'deleted') await deleteIndexEntries([key.userOrg(userId)]);
      return outcome === 'deleted';
    },

    async deleteOrganization(orgId) {
      // Its issuer registrations first, the issuer's side of each before the org's: from then on
      // no token resolves to the org.
      for (const registration of await listIssuerRegistrations(orgId)) {
        await removeIssuerRegistration(orgId, registration.registrationId);
      }
      const keys = key.org(orgId);
      for (let attempts = 1; ; attempts++) {
        const subscriptionIds = (await send(['HKEYS', keys.subscriptions])) as string[];
        const reply = (await run(
          DELETE_ORGANIZATION,
          [
            keys.organization,
            keys.apiKeys,
            keys.revokedApiKeys,
            keys.registrations,
            keys.users,
            keys.identities,
            keys.emails,
            keys.subscriptions,
            keys.subscriptionsVersion,
            keys.deliveries,
            keys.dueDeliveries,
            keys.deliveryLeases,
            keys.finishedDeliveries,
            ...subscriptionIds.map((id) => keys.subscriptionDeliveries(id)),
          ],
          subscriptionIds,
        )) as ['retry'] | [number, string[], string[]];
        if (reply[0] === 'retry') {
          if (attempts >= MAX_OUTBOX_ATTEMPTS) {
            throw new Error('redisStore: subscriptions kept changing while deleting an organization');
          }
          continue;
        }
        const [existed, userIds, deliveryIds] = reply;
        // Global index entries after the org: each left behind names data that no longer exists.
        await deleteIndexEntries([
          ...userIds.map((id) => key.userOrg(id)),
          ...deliveryIds.map((id) => key.deliveryOrg(id)),
        ]);
        await send(['ZREM', key.dueOrgs, orgId]);
        return existed === 1;
      }
    },

    async setUserRole({ orgId, userId, role, now }) {
      const json = await run(SET_USER_ROLE, [key.org(orgId).users], [userId, orgId, role, String(now)]);
      return typeof json === 'string' ? parseUser(json) : null;
    },

    async createWebhookSubscription(record) {
      await writeSubscription(record.orgId, record.subscriptionId, '', record);
    },

    async getWebhookSubscription(orgId, subscriptionId) {
      const json = await send(['HGET', key.org(orgId).subscriptions, subscriptionId]);
      return typeof json === 'string' ? (JSON.parse(json) as WebhookSubscriptionRecord) : null;
    },

    async listWebhookSubscriptions(orgId) {
      const stored = (await send(['HVALS', key.org(orgId).subscriptions])) as string[];
      return stored
        .map((json) => JSON.parse(json) as WebhookSubscriptionRecord)
        .sort(storeKit.oldestSubscriptionFirst);
    },

    async updateWebhookSubscription(orgId, subscriptionId, patch, now) {
      for (let attempts = 1; attempts <= MAX_OUTBOX_ATTEMPTS; attempts++) {
        const json = await send(['HGET', key.org(orgId).subscriptions, subscriptionId]);
        if (typeof json !== 'string') return null;
        const updated = storeKit.applyWebhookSubscriptionPatch(JSON.parse(json), patch, now);
        if (await writeSubscription(orgId, subscriptionId, json, updated)) return updated;
      }
      throw new Error('redisStore: a webhook subscription kept changing while being updated');
    },

    async deleteWebhookSubscription(orgId, subscriptionId) {
      const keys = key.org(orgId);
      const reply = await run(
        DELETE_SUBSCRIPTION,
        // Its delivery list goes with it: deleteOrganization only knows the subscriptions still stored.
        [keys.subscriptions, keys.subscriptionsVersion, keys.subscriptionDeliveries(subscriptionId)],
        [subscriptionId],
      );
      return reply === 1;
    },

    async enqueueWebhookEvents(events) {
      // One script per organization: an org's deliveries share its slot, different orgs may not.
      const orgIds = [...new Set(events.map((event) => event.orgId))];
      await Promise.all(
        orgIds.map((orgId) =>
          withOutbox(
            orgId,
            () => events.filter((event) => event.orgId === orgId),
            async (outbox) => {
              const reply = await run(ENQUEUE_WEBHOOK_EVENTS, outbox.keys, outbox.args);
              return reply === 'retry' ? 'retry' : undefined;
            },
          ),
        ),
      );
    },

    async addWebhookDelivery(record) {
      const { leaseToken, leaseExpiresAt } = record;
      const claimableAt = leaseToken !== null ? leaseExpiresAt : record.nextAttemptAt;
      const due = record.status === 'pending' && claimableAt !== null ? claimableAt : null;
      const keys = key.org(record.orgId);
      await send(['SET', key.deliveryOrg(record.deliveryId), record.orgId]);
      if (due !== null) await markDue(record.orgId, due);
      await run(
        ADD_DELIVERY,
        [
          keys.deliveries,
          keys.dueDeliveries,
          keys.deliveryLeases,
          keys.subscriptionDeliveries(record.subscriptionId),
        ],
        [
          record.deliveryId,
          JSON.stringify(withoutLease(record)),
          leaseToken ?? '',
          due === null ? '' : String(due),
          String(record.createdAt),
        ],
      );
      if (due !== null) await markDue(record.orgId, due);
    },

    async claimWebhookDeliveries({ now, limit, leaseSeconds, leaseToken }) {
      const leaseExpiresAt = now + leaseSeconds;
      const orgIds = (await send([
        'ZRANGEBYSCORE',
        key.dueOrgs,
        '-inf',
        String(now),
        'LIMIT',
        '0',
        String(limit),
      ])) as string[];
      const claimed: WebhookDeliveryRecord[] = [];
      for (const orgId of orgIds) {
        if (claimed.length >= limit) break;
        // Unmark, claim, mark again with what is left: a delivery written meanwhile marks the org
        // itself after its write, so it is never left unfindable (see keys.ts).
        await send(['ZREM', key.dueOrgs, orgId]);
        const keys = key.org(orgId);
        const [records, nextDue] = (await run(
          CLAIM_DELIVERIES,
          [keys.dueDeliveries, keys.deliveryLeases, keys.deliveries],
          [String(now), String(limit - claimed.length), String(leaseExpiresAt), leaseToken],
        )) as [string[], string];
        if (nextDue !== '') await markDue(orgId, Number(nextDue));
        claimed.push(
          ...records.map(
            (json): WebhookDeliveryRecord => ({ ...JSON.parse(json), leaseToken, leaseExpiresAt }),
          ),
        );
      }
      return claimed.sort(storeKit.earliestDueDeliveryFirst);
    },

    async completeWebhookAttempt(input) {
      const orgId = await send(['GET', key.deliveryOrg(input.deliveryId)]);
      if (typeof orgId !== 'string') return false;
      const keys = key.org(orgId);
      const json = await send(['HGET', keys.deliveries, input.deliveryId]);
      if (typeof json !== 'string') return false;
      // Only the lease holder writes the record while its lease holds, so what was read is current.
      const current: WebhookDeliveryRecord = JSON.parse(json);
      const updated: WebhookDeliveryRecord = {
        ...current,
        status: input.status,
        nextAttemptAt: input.nextAttemptAt,
        attempts: [...current.attempts, input.attempt],
        updatedAt: input.now,
      };
      const nextDue = input.status === 'pending' ? input.nextAttemptAt : null;
      const [completed, dropped] = (await run(
        COMPLETE_DELIVERY,
        [keys.deliveries, keys.dueDeliveries, keys.deliveryLeases, keys.finishedDeliveries],
        [
          input.deliveryId,
          input.leaseToken,
          JSON.stringify(updated),
          nextDue === null ? '' : String(nextDue),
          String(input.now),
          String(input.now - DELIVERY_RETENTION_SECONDS),
        ],
      )) as [number, string[]?];
      if (completed !== 1) return false;
      if (nextDue !== null) await markDue(orgId, nextDue);
      if (dropped && dropped.length > 0) await deleteIndexEntries(dropped.map((id) => key.deliveryOrg(id)));
      return true;
    },

    async countPendingWebhookDeliveries(now) {
      // An org's mark is at most its earliest due time, so orgs marked later have nothing due.
      const orgIds = (await send(['ZRANGEBYSCORE', key.dueOrgs, '-inf', String(now)])) as string[];
      const counts = await Promise.all(
        orgIds.map((orgId) => send(['ZCOUNT', key.org(orgId).dueDeliveries, '-inf', String(now)])),
      );
      return counts.reduce((total: number, count) => total + Number(count), 0);
    },

    async listWebhookDeliveries(orgId, subscriptionId, limit) {
      const keys = key.org(orgId);
      const stored = (await run(
        LIST_DELIVERIES,
        [keys.subscriptionDeliveries(subscriptionId), keys.deliveries],
        [String(limit), String(epochSeconds() - DELIVERY_RETENTION_SECONDS)],
      )) as string[];
      return stored
        .map((json) => JSON.parse(json) as WebhookDeliveryRecord)
        .filter((delivery) => delivery.orgId === orgId);
    },

    saveRefreshToken(record) {
      const keys = key.family(record.familyId);
      // Serialized at the call: the caller may reuse its object before the batch goes out.
      return saveRefreshTokens({
        keys: [keys.tokens, keys.revoked],
        args: [record.jti, JSON.stringify(record), String(secondsToKeep(record.expiresAt))],
      });
    },

    async rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      // Serialized before the first await: the caller may reuse its object.
      const successorJson = JSON.stringify(successor);
      // The presented token's family is the successor's: core builds it from the token's `fid`.
      const keys = key.family(successor.familyId);
      const [outcome, stored] = (await run(
        ROTATE_REFRESH_TOKEN,
        [keys.tokens, keys.revoked],
        [
          String(now),
          String(graceSeconds),
          jti,
          successor.jti,
          successorJson,
          String(secondsToKeep(successor.expiresAt)),
          String(EXPIRY_MARGIN_SECONDS),
        ],
      )) as [RotateRefreshTokenResult['outcome'], string?];
      switch (outcome) {
        case 'rotated':
          return { outcome, successor: JSON.parse(successorJson) as RefreshTokenRecord };
        case 'retried':
          return { outcome, successor: JSON.parse(stored as string) as RefreshTokenRecord };
        default:
          return { outcome };
      }
    },

    async consumeOnce(consumedKey, expiresAt, now) {
      const ttlSeconds = Math.max(1, expiresAt - now + EXPIRY_MARGIN_SECONDS);
      const recorded = await run(
        CONSUME_ONCE,
        [key.consumed(consumedKey)],
        [String(expiresAt), String(now), String(ttlSeconds)],
      );
      return recorded === 1;
    },

    async hitRateLimit({ key: limitKey, intervalMs, toleranceMs, nowMs }) {
      const [allowed, theoreticalArrivalMs] = (await run(
        HIT_RATE_LIMIT,
        [key.rateLimit(limitKey)],
        [String(intervalMs), String(toleranceMs), String(nowMs), String(EXPIRY_MARGIN_SECONDS * 1000)],
      )) as [number, number];
      return { allowed: allowed === 1, theoreticalArrivalMs: Number(theoreticalArrivalMs) };
    },

    async revokeRefreshTokenFamily(familyId, now) {
      const keys = key.family(familyId);
      await run(
        REVOKE_REFRESH_TOKEN_FAMILY,
        [keys.tokens, keys.revoked],
        [String(now), String(FAMILY_REVOCATION_MIN_SECONDS)],
      );
    },

    async ensureSigningKey(candidate) {
      const stored = (await run(
        ENSURE_SIGNING_KEY,
        [key.signingKeys(candidate.use)],
        [candidate.kid, JSON.stringify(candidate)],
      )) as string[];
      return storeKit.sortedBy(
        stored.map((json) => JSON.parse(json)),
        storeKit.newestSigningKeyFirst,
      )[0] as SigningKeyRecord;
    },

    async addSigningKey(record) {
      await send(['HSETNX', key.signingKeys(record.use), record.kid, JSON.stringify(record)]);
    },

    async listSigningKeys(use) {
      const stored = (await send(['HVALS', key.signingKeys(use)])) as string[];
      return storeKit.sortedBy(
        stored.map((json) => JSON.parse(json)),
        storeKit.newestSigningKeyFirst,
      );
    },

    close: () => connector.close(),
  };
}

// Subscriptions change rarely; losing this many races in a row means something else is wrong.
const MAX_OUTBOX_ATTEMPTS = 5;
// Each retry of a claim follows dropping at least one leftover entry; leftovers only come from
// crashes and rare races, so this many in a row means something else is wrong.
const MAX_CLAIM_ATTEMPTS = 5;

/** An issuer index entry: the stored JSON (what a compare-and-delete compares) and its record. */
interface IndexEntry {
  json: string;
  record: IssuerRegistrationRecord;
}

/** Leases live in their own hash, so a claim never rewrites the delivery's JSON. */
function withoutLease(record: WebhookDeliveryRecord): WebhookDeliveryRecord {
  return { ...record, leaseToken: null, leaseExpiresAt: null };
}

/** Each field is stored JSON-encoded in its own hash field, so a patch is one HSET of the changed fields. */
function organizationPairs(fields: Partial<OrganizationRecord>): string[] {
  return ORGANIZATION_FIELDS.flatMap((field) =>
    fields[field] === undefined ? [] : [field, JSON.stringify(fields[field])],
  );
}

function organizationFromPairs(reply: unknown): OrganizationRecord | null {
  const pairs = reply as string[];
  if (pairs.length === 0) return null;
  const stored = new Map<string, unknown>();
  for (let index = 0; index < pairs.length; index += 2) {
    stored.set(pairs[index] as string, JSON.parse(pairs[index + 1] as string));
  }
  return storeKit.withOrganizationDefaults(
    Object.fromEntries(
      ORGANIZATION_FIELDS.map((field) => [field, stored.get(field)]),
    ) as unknown as OrganizationRecord,
  );
}
