import type {
  ApiKeyRecord,
  FindOrCreateUserResult,
  IssuerRegistrationRecord,
  OrganizationRecord,
  RefreshTokenRecord,
  RotateRefreshTokenResult,
  SigningKeyRecord,
  SigningKeyUse,
  Store,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { StoreUnavailableError, storeKit } from '@rialto-exchange/core';
import { parseOptions, positiveNumber, strictOptions } from '@rialto-exchange/core/option-schema';
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
import { isNoScriptReply, toStoreError } from './redis-errors.js';
import {
  ADD_API_KEY,
  ADD_DELIVERY,
  ADD_ISSUER_REGISTRATION,
  CLAIM_DELIVERIES,
  COMPLETE_DELIVERY,
  CONSUME_ONCE,
  CREATE_ORGANIZATION,
  CREATE_USER,
  DELETE_ORGANIZATION,
  DELETE_ORGANIZATION_USERS,
  DELETE_SUBSCRIPTION,
  DELETE_USER,
  ENQUEUE_WEBHOOK_EVENTS,
  ENSURE_SIGNING_KEY,
  FIND_ISSUER_REGISTRATIONS,
  FIND_OR_CREATE_USER,
  FIND_USERS_BY_IDENTITY,
  HIT_RATE_LIMIT,
  LIST_API_KEYS,
  LIST_DELIVERIES,
  LIST_ISSUER_REGISTRATIONS,
  type LuaScript,
  READ_ORGANIZATION,
  READ_SUBSCRIPTIONS,
  REMOVE_ISSUER_REGISTRATION,
  REVOKE_API_KEY,
  REVOKE_REFRESH_TOKEN_FAMILY,
  ROTATE_REFRESH_TOKEN,
  SAVE_REFRESH_TOKENS,
  SET_USER_ROLE,
  UPDATE_ORGANIZATION,
  UPDATE_USER_VERIFICATION,
  WRITE_SUBSCRIPTION,
} from './scripts.js';

/**
 * The part of a node-redis v5 client (`createClient()` from `redis` or `@redis/client`) the store
 * uses, so the store's types do not depend on the `redis` package. Replies are read in their RESP2
 * and RESP3 forms alike. Cluster clients do not fit: the store needs one primary.
 *
 * @example
 * const client: RedisCommandClient = await createClient({ url }).connect();
 */
export interface RedisCommandClient {
  sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown>;
}

/**
 * Where the store's data lives: a URL to connect to, or a connected client of the host's.
 *
 * @example
 * redisStore({ url: 'rediss://user:secret@redis.internal:6380/0' });
 */
export type RedisConnection =
  /** `redis://` or `rediss://` URL; the store creates, connects (on first use) and closes the client. */
  | { url: string }
  /** A node-redis v5 client the host created and connected; the store never closes it. */
  | { client: RedisCommandClient };

/**
 * Settings of `redisStore()`; every one has a default.
 *
 * @example
 * redisStore({ url }, { keyPrefix: 'exchange:', commandTimeoutMs: 2_000 });
 */
export interface RedisStoreOptions {
  /**
   * Prepended to every key, so several deployments (or tests) can share one database.
   * @default 'rialto:'
   */
  keyPrefix?: string;
  /**
   * How long the first call waits for the connection the store opens from `url` before failing
   * with `StoreUnavailableError`. Ignored with `client`.
   * @default 5000
   */
  connectTimeoutMs?: number;
  /**
   * How long any command may wait for its reply, including time spent queued in a host client that
   * buffers commands while offline; then the call fails with `StoreUnavailableError`.
   * @default 5000
   */
  commandTimeoutMs?: number;
}

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

const DEFAULT_KEY_PREFIX = 'rialto:';
// Long enough for a TLS handshake to a managed Redis in another zone; short enough that a request
// hitting an outage gets its 503 while the client is still waiting.
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
const redisStoreOptionsSchema = strictOptions({
  keyPrefix: z.string({ error: 'must be a string' }).optional(),
  connectTimeoutMs: positiveNumber().optional(),
  commandTimeoutMs: positiveNumber().optional(),
});
const MAX_RECONNECT_DELAY_MS = 2_000;
// Calls batched into one script call (each brings at most 3 keys and 3 arguments).
const MAX_BATCH = 100;
// Keys SCAN looks at per call when deleting: a bounded amount of work per round trip.
const SCAN_COUNT = 1000;

/** Escapes Redis glob characters, so a key prefix matches itself only. */
function globEscape(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}

const ORGANIZATION_FIELDS = [
  'orgId',
  'name',
  'audience',
  'provisioning',
  'suspendedAt',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof OrganizationRecord)[];

/**
 * A Store on Redis (standalone or a Sentinel-managed primary; not Cluster), shared safely by any
 * number of instances.
 *
 * Atomicity comes from Redis itself, never from read-then-write in this process: every multi-key
 * write and every check-then-write (issuer uniqueness, find-or-create of users, refresh-token rotation
 * with its successor, ensure of signing keys) is one Lua script, which Redis runs without interleaving and which
 * a dropped connection cannot cut in half. Refresh tokens expire with their `expiresAt` (plus a
 * minute for clock skew); a family revocation is remembered for a day, and the family's existing
 * tokens are deleted at once.
 *
 * With `url`, the store connects on first use with `disableOfflineQueue`, so while Redis is down
 * every call fails at once with `StoreUnavailableError` (answered as 503) instead of queueing, and
 * reconnects in the background with capped backoff: no restart is needed once Redis is back. With
 * `client`, the host owns the connection; `commandTimeoutMs` still bounds every call. Needs Redis 6
 * or later, and the `redis` package (v5) when `url` is used.
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
 */
export function redisStore(connection: RedisConnection, options: RedisStoreOptions = {}): RedisStore {
  parseOptions(redisStoreOptionsSchema, options, 'redisStore');
  const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const connector = createConnector(connection, connectTimeoutMs);
  // node-redis arms an AbortSignal.timeout per command for this, which costs more than the command's
  // own work on the client: only pay it where a command can wait unwritten.
  const writeTimeout = connector.queuesUnwrittenCommands ? { timeout: commandTimeoutMs } : undefined;

  const key = {
    organization: (orgId: string) => `${prefix}org:${orgId}`,
    // Every org's registrations of one issuer, by registration id (JSON records).
    issuerRegistrations: (issuer: string) => `${prefix}issuer-regs:${issuer}`,
    // An org's registrations: registration id -> issuer, so an org's data is found by its id.
    orgIssuers: (orgId: string) => `${prefix}org-issuers:${orgId}`,
    apiKeys: (orgId: string) => `${prefix}api-keys:${orgId}`,
    revokedApiKeys: (orgId: string) => `${prefix}api-keys-revoked:${orgId}`,
    user: (userId: string) => `${prefix}user:${userId}`,
    // JSON arrays keep composite keys unambiguous whatever characters the parts contain.
    identity: (orgId: string, iss: string, sub: string) =>
      `${prefix}identity:${JSON.stringify([orgId, iss, sub])}`,
    email: (orgId: string, email: string) => `${prefix}email:${JSON.stringify([orgId, email])}`,
    /** A SCAN pattern for the identity links or email entries of one org: their JSON keys start with it. */
    orgEntries: (kind: 'identity' | 'email', orgId: string) =>
      `${globEscape(`${prefix}${kind}:${JSON.stringify([orgId]).slice(0, -1)},`)}*`,
    refreshToken: (jti: string) => `${prefix}refresh:${jti}`,
    consumed: (key: string) => `${prefix}consumed:${key}`,
    rateLimit: (key: string) => `${prefix}rate-limit:${key}`,
    family: (familyId: string) => `${prefix}family:${familyId}`,
    familyRevoked: (familyId: string) => `${prefix}family-revoked:${familyId}`,
    signingKeys: (use: SigningKeyUse) => `${prefix}signing-keys:${use}`,
    subscriptions: (orgId: string) => `${prefix}webhook-subs:${orgId}`,
    subscriptionsVersion: (orgId: string) => `${prefix}webhook-subs-version:${orgId}`,
    delivery: (deliveryId: string) => `${prefix}webhook-delivery:${deliveryId}`,
    dueDeliveries: `${prefix}webhook-due`,
    deliveryLeases: `${prefix}webhook-leases`,
    subscriptionDeliveries: (subscriptionId: string) => `${prefix}webhook-sub-deliveries:${subscriptionId}`,
  };

  function request(client: RedisCommandClient, args: string[]): Promise<unknown> {
    // node-redis's own `timeout` only covers the time a command waits to be written (it then drops
    // the command, so a call that failed is not run later); the deadline covers waiting for the reply.
    return withDeadline(
      client.sendCommand(args, writeTimeout),
      commandTimeoutMs,
      () => new Error(`Redis did not reply within ${commandTimeoutMs} ms`),
    );
  }

  async function send(args: string[]): Promise<unknown> {
    const client = await connector.ready();
    try {
      return await request(client, args);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  async function run(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    const client = await connector.ready();
    try {
      try {
        return await request(client, ['EVALSHA', script.sha1, ...tail]);
      } catch (error) {
        // First use of the script on this server (or after SCRIPT FLUSH / a restart): EVAL caches it.
        if (!isNoScriptReply(error)) throw error;
        return await request(client, ['EVAL', script.source, ...tail]);
      }
    } catch (error) {
      throw toStoreError(error);
    }
  }

  // Every exchange saves a refresh token: saves that arrive together go out as one script call.
  const saveRefreshTokens = createBatcher<{ keys: string[]; args: string[] }>(async (saves) => {
    await run(
      SAVE_REFRESH_TOKENS,
      saves.flatMap((save) => save.keys),
      saves.flatMap((save) => save.args),
    );
    return undefined;
  }, MAX_BATCH);

  // Nearly every exchange is a returning user: lookups that arrive together go out as one read-only
  // script call, and only identities it does not find take the find-or-create script.
  const findUserByIdentity = createBatcher<string, string | null>(async (identityKeys) => {
    const users = (await run(FIND_USERS_BY_IDENTITY, identityKeys, [key.user('')])) as unknown[];
    return identityKeys.map((_, i) => (typeof users[i] === 'string' ? (users[i] as string) : null));
  }, MAX_BATCH);

  function apiKeyArgs(record: ApiKeyRecord): string[] {
    const { revokedAt, ...stored } = record;
    return [record.keyId, JSON.stringify(stored), revokedAt === null ? '' : String(revokedAt)];
  }

  /** The deliveries of `events` and the outbox ARGV that writes them if no subscription changed meanwhile. */
  async function outboxArgs(events: readonly WebhookEventRecord[]): Promise<string[]> {
    const orgIds = [...new Set(events.map((event) => event.orgId))];
    const snapshots = await Promise.all(
      orgIds.map(async (orgId) => {
        const [version, stored] = (await run(
          READ_SUBSCRIPTIONS,
          [key.subscriptions(orgId), key.subscriptionsVersion(orgId)],
          [],
        )) as [string, string[]];
        return {
          orgId,
          version,
          subscriptions: stored.map((json) => JSON.parse(json) as WebhookSubscriptionRecord),
        };
      }),
    );
    const deliveries = storeKit.webhookDeliveriesFor(
      events,
      (orgId) => snapshots.find((snapshot) => snapshot.orgId === orgId)?.subscriptions ?? [],
    );
    return [
      String(snapshots.length),
      ...snapshots.flatMap(({ orgId, version }) => [key.subscriptionsVersion(orgId), version]),
      key.delivery(''),
      key.dueDeliveries,
      key.subscriptionDeliveries(''),
      String(deliveries.length),
      ...deliveries.flatMap((delivery) => [
        delivery.deliveryId,
        delivery.subscriptionId,
        JSON.stringify(delivery),
        String(delivery.nextAttemptAt),
      ]),
    ];
  }

  /** Runs a script that ends in the outbox again while it answers 'retry' (a subscription changed). */
  /** Keys matching `pattern`, in batches, by SCAN: it never blocks Redis the way KEYS would. */
  async function* scan(pattern: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, keys] = (await send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(SCAN_COUNT)])) as [
        string,
        string[],
      ];
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }

  /** The keys matching `pattern` whose value is `userId`. */
  async function linksTo(pattern: string, userId: string): Promise<string[]> {
    const found: string[] = [];
    for await (const batch of scan(pattern)) {
      const values = (await send(['MGET', ...batch])) as (string | null)[];
      found.push(...batch.filter((_, index) => values[index] === userId));
    }
    return found;
  }

  async function withOutbox<T>(
    events: () => readonly WebhookEventRecord[],
    attempt: (outbox: string[]) => Promise<T | 'retry'>,
    { isLazy = false } = {},
  ): Promise<T> {
    for (let attempts = 1; ; attempts++) {
      const outbox = isLazy && attempts === 1 ? [...UNPREPARED_OUTBOX] : await outboxArgs(events());
      const result = await attempt(outbox);
      if (result !== 'retry') return result;
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
    const reply = await run(
      WRITE_SUBSCRIPTION,
      [key.subscriptions(orgId), key.subscriptionsVersion(orgId)],
      [subscriptionId, expected, JSON.stringify(record)],
    );
    return reply === 1;
  }

  async function listIssuerRegistrations(orgId: string): Promise<IssuerRegistrationRecord[]> {
    const records = await run(LIST_ISSUER_REGISTRATIONS, [key.orgIssuers(orgId)], [prefix, orgId]);
    return storeKit.sortedBy(
      (records as string[]).map((json) => JSON.parse(json)),
      storeKit.oldestRegistrationFirst,
    );
  }

  async function removeIssuerRegistration(orgId: string, registrationId: string): Promise<boolean> {
    const reply = await run(
      REMOVE_ISSUER_REGISTRATION,
      [key.orgIssuers(orgId)],
      [prefix, orgId, registrationId],
    );
    return reply === 1;
  }

  return {
    async createOrganization(org, firstKey, firstIssuer) {
      const reply = await run(
        CREATE_ORGANIZATION,
        [
          key.organization(org.orgId),
          key.apiKeys(org.orgId),
          key.revokedApiKeys(org.orgId),
          key.issuerRegistrations(firstIssuer.issuer),
          key.orgIssuers(org.orgId),
        ],
        [
          org.orgId,
          ...apiKeyArgs(firstKey),
          prefix,
          ...issuerRegistrationArgs(firstIssuer),
          ...organizationPairs(org),
        ],
      );
      return reply === 'issuer_taken' || reply === 'client_id_taken' ? reply : 'created';
    },

    async getOrganization(orgId) {
      return organizationFromPairs(await run(READ_ORGANIZATION, [key.organization(orgId)], []));
    },

    async addIssuerRegistration(record) {
      const reply = await run(
        ADD_ISSUER_REGISTRATION,
        [key.issuerRegistrations(record.issuer), key.orgIssuers(record.orgId)],
        [prefix, record.orgId, ...issuerRegistrationArgs(record)],
      );
      return reply as Awaited<ReturnType<Store['addIssuerRegistration']>>;
    },

    listIssuerRegistrations,

    async findIssuerRegistrations(issuer) {
      const records = await run(
        FIND_ISSUER_REGISTRATIONS,
        [key.issuerRegistrations(issuer)],
        [prefix, issuer],
      );
      return storeKit.sortedBy(
        (records as string[]).map((json) => JSON.parse(json)),
        storeKit.oldestRegistrationFirst,
      );
    },

    removeIssuerRegistration,

    async updateOrganization(orgId, patch, now) {
      return organizationFromPairs(
        await run(
          UPDATE_ORGANIZATION,
          [key.organization(orgId)],
          organizationPairs({ ...patch, updatedAt: now }),
        ),
      );
    },

    async addApiKey(record) {
      await run(
        ADD_API_KEY,
        [key.apiKeys(record.orgId), key.revokedApiKeys(record.orgId)],
        apiKeyArgs(record),
      );
    },

    async listActiveApiKeys(orgId) {
      const [stored, revoked] = (await run(
        LIST_API_KEYS,
        [key.apiKeys(orgId), key.revokedApiKeys(orgId)],
        [],
      )) as [string[], string[]];
      const revokedIds = new Set(revoked);
      return storeKit.sortedBy(
        stored
          .map((json): ApiKeyRecord => ({ ...JSON.parse(json), revokedAt: null }))
          .filter((record) => !revokedIds.has(record.keyId)),
        storeKit.oldestApiKeyFirst,
      );
    },

    async revokeApiKey(orgId, keyId, now) {
      const reply = await run(
        REVOKE_API_KEY,
        [key.apiKeys(orgId), key.revokedApiKeys(orgId)],
        [keyId, String(now)],
      );
      return reply === 1;
    },

    async findOrCreateUser(input): Promise<FindOrCreateUserResult> {
      const linked = await findUserByIdentity(key.identity(input.orgId, input.iss, input.sub));
      if (linked !== null) return { outcome: 'existing', user: parseUser(linked) };
      const created = input.newUser;
      const [outcome, json] = await withOutbox(
        // Read only if the first attempt asks for a retry: the events may be built on demand.
        () => input.eventsIfCreated ?? [],
        async (outbox) => {
          const reply = (await run(
            FIND_OR_CREATE_USER,
            [
              key.identity(input.orgId, input.iss, input.sub),
              key.email(input.orgId, input.email),
              key.user(created.userId),
            ],
            [
              key.user(''),
              `${input.mayLinkByEmail ? '1' : '0'}${input.mayCreate === false ? '0' : '1'}`,
              created.userId,
              JSON.stringify(created),
              ...outbox,
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
      const json = await send(['GET', key.user(userId)]);
      if (typeof json !== 'string') return null;
      const user = parseUser(json);
      return user.orgId === orgId ? user : null;
    },

    async getUserById(userId) {
      const json = await send(['GET', key.user(userId)]);
      return typeof json === 'string' ? parseUser(json) : null;
    },

    async updateUserVerification(input) {
      const { expected, next } = input;
      const [outcome, json] = await withOutbox(
        () => input.events,
        async (outbox) => {
          const reply = (await run(
            UPDATE_USER_VERIFICATION,
            [key.user(input.userId)],
            [
              input.orgId,
              expected.onboardingCompleted ? '1' : '0',
              expected.kycStatus,
              expected.accreditationStatus,
              next.onboardingCompleted ? '1' : '0',
              next.kycStatus,
              next.accreditationStatus,
              String(input.now),
              ...outbox,
            ],
          )) as ['updated' | 'stale' | 'not_found' | 'retry', string?];
          return reply[0] === 'retry' ? 'retry' : reply;
        },
      );
      if (outcome === 'not_found') return { outcome };
      return { outcome: outcome as 'updated' | 'stale', user: parseUser(json as string) };
    },

    async createUser({ user, events }) {
      return withOutbox(
        () => events,
        async (outbox) =>
          (await run(
            CREATE_USER,
            [key.email(user.orgId, user.email), key.user(user.userId)],
            [key.user(''), user.userId, JSON.stringify(user), ...outbox],
          )) as 'created' | 'email_taken' | 'retry',
      );
    },

    async deleteUser({ orgId, userId, events }) {
      const json = await send(['GET', key.user(userId)]);
      const user = typeof json === 'string' ? parseUser(json) : null;
      if (!user || user.orgId !== orgId) return false;
      const identities = await linksTo(key.orgEntries('identity', orgId), userId);
      const outcome = await withOutbox(
        () => events,
        async (outbox) =>
          (await run(
            DELETE_USER,
            [key.user(userId), key.email(orgId, user.email), ...identities],
            [orgId, userId, ...outbox],
          )) as 'deleted' | 'not_found' | 'retry',
      );
      return outcome === 'deleted';
    },

    async deleteOrganization(orgId) {
      // Its issuer registrations first, each released by the script that removes one: from then on
      // no token resolves to the org.
      for (const registration of await listIssuerRegistrations(orgId)) {
        await removeIssuerRegistration(orgId, registration.registrationId);
      }
      const existed = await run(
        DELETE_ORGANIZATION,
        [
          key.organization(orgId),
          key.apiKeys(orgId),
          key.revokedApiKeys(orgId),
          key.subscriptions(orgId),
          key.subscriptionsVersion(orgId),
        ],
        [
          orgId,
          `${prefix}issuer:`, // where stores before issuer registrations indexed an org's issuer
          key.subscriptionDeliveries(''),
          key.delivery(''),
          key.dueDeliveries,
          key.deliveryLeases,
        ],
      );
      // Users are found through the org's identity links and email entries, which name the org
      // in their keys. Each batch is one script; an interrupted pass is finished by calling again.
      for (const pattern of [key.orgEntries('identity', orgId), key.orgEntries('email', orgId)]) {
        for await (const batch of scan(pattern)) {
          await run(DELETE_ORGANIZATION_USERS, batch, [key.user(''), orgId]);
        }
      }
      return existed === 1;
    },

    async setUserRole({ orgId, userId, role, now }) {
      const json = await run(SET_USER_ROLE, [key.user(userId)], [orgId, role, String(now)]);
      return typeof json === 'string' ? parseUser(json) : null;
    },

    async createWebhookSubscription(record) {
      await writeSubscription(record.orgId, record.subscriptionId, '', record);
    },

    async getWebhookSubscription(orgId, subscriptionId) {
      const json = await send(['HGET', key.subscriptions(orgId), subscriptionId]);
      return typeof json === 'string' ? (JSON.parse(json) as WebhookSubscriptionRecord) : null;
    },

    async listWebhookSubscriptions(orgId) {
      const stored = (await send(['HVALS', key.subscriptions(orgId)])) as string[];
      return stored
        .map((json) => JSON.parse(json) as WebhookSubscriptionRecord)
        .sort(storeKit.oldestSubscriptionFirst);
    },

    async updateWebhookSubscription(orgId, subscriptionId, patch, now) {
      for (let attempts = 1; attempts <= MAX_OUTBOX_ATTEMPTS; attempts++) {
        const json = await send(['HGET', key.subscriptions(orgId), subscriptionId]);
        if (typeof json !== 'string') return null;
        const updated = storeKit.applyWebhookSubscriptionPatch(JSON.parse(json), patch, now);
        if (await writeSubscription(orgId, subscriptionId, json, updated)) return updated;
      }
      throw new Error('redisStore: a webhook subscription kept changing while being updated');
    },

    async deleteWebhookSubscription(orgId, subscriptionId) {
      const reply = await run(
        DELETE_SUBSCRIPTION,
        [key.subscriptions(orgId), key.subscriptionsVersion(orgId)],
        [subscriptionId],
      );
      return reply === 1;
    },

    async enqueueWebhookEvents(events) {
      if (events.length === 0) return;
      await withOutbox(
        () => events,
        async (outbox) => {
          const reply = await run(ENQUEUE_WEBHOOK_EVENTS, [], outbox);
          return reply === 'retry' ? 'retry' : undefined;
        },
      );
    },

    async addWebhookDelivery(record) {
      const { leaseToken, leaseExpiresAt } = record;
      const claimableAt = leaseToken !== null ? leaseExpiresAt : record.nextAttemptAt;
      await run(
        ADD_DELIVERY,
        [
          key.delivery(record.deliveryId),
          key.dueDeliveries,
          key.deliveryLeases,
          key.subscriptionDeliveries(record.subscriptionId),
        ],
        [
          record.deliveryId,
          JSON.stringify(withoutLease(record)),
          leaseToken ?? '',
          record.status === 'pending' && claimableAt !== null ? String(claimableAt) : '',
          String(record.createdAt),
        ],
      );
    },

    async claimWebhookDeliveries({ now, limit, leaseSeconds, leaseToken }) {
      const leaseExpiresAt = now + leaseSeconds;
      const claimed = (await run(
        CLAIM_DELIVERIES,
        [key.dueDeliveries, key.deliveryLeases],
        [String(now), String(limit), String(leaseExpiresAt), leaseToken, key.delivery('')],
      )) as string[];
      return claimed.map(
        (json): WebhookDeliveryRecord => ({ ...JSON.parse(json), leaseToken, leaseExpiresAt }),
      );
    },

    async completeWebhookAttempt(input) {
      const json = await send(['GET', key.delivery(input.deliveryId)]);
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
      const reply = await run(
        COMPLETE_DELIVERY,
        [key.delivery(input.deliveryId), key.dueDeliveries, key.deliveryLeases],
        [
          input.deliveryId,
          input.leaseToken,
          JSON.stringify(updated),
          input.status === 'pending' && input.nextAttemptAt !== null ? String(input.nextAttemptAt) : '',
          String(DELIVERY_RETENTION_SECONDS),
        ],
      );
      return reply === 1;
    },

    async countPendingWebhookDeliveries(now) {
      return Number(await send(['ZCOUNT', key.dueDeliveries, '-inf', String(now)]));
    },

    async listWebhookDeliveries(orgId, subscriptionId, limit) {
      const stored = (await run(
        LIST_DELIVERIES,
        [key.subscriptionDeliveries(subscriptionId)],
        [String(limit), key.delivery(''), String(epochSeconds() - DELIVERY_RETENTION_SECONDS)],
      )) as string[];
      return stored
        .map((json) => JSON.parse(json) as WebhookDeliveryRecord)
        .filter((delivery) => delivery.orgId === orgId);
    },

    saveRefreshToken(record) {
      // Serialized at the call: the caller may reuse its object before the batch goes out.
      return saveRefreshTokens({
        keys: [key.refreshToken(record.jti), key.family(record.familyId), key.familyRevoked(record.familyId)],
        args: [record.jti, JSON.stringify(record), String(secondsToKeep(record.expiresAt))],
      });
    },

    async rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      // Serialized before the first await: the caller may reuse its object.
      const successorJson = JSON.stringify(successor);
      const [outcome, stored] = (await run(
        ROTATE_REFRESH_TOKEN,
        [
          key.refreshToken(jti),
          key.refreshToken(successor.jti),
          key.family(successor.familyId),
          key.familyRevoked(successor.familyId),
        ],
        [
          String(now),
          String(graceSeconds),
          successor.jti,
          successorJson,
          String(secondsToKeep(successor.expiresAt)),
          key.refreshToken(''),
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
      await run(
        REVOKE_REFRESH_TOKEN_FAMILY,
        [key.family(familyId), key.familyRevoked(familyId)],
        [String(now), String(FAMILY_REVOCATION_MIN_SECONDS), key.refreshToken('')],
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

// Outbox ARGV telling a script that deliveries were not computed: it answers 'retry' if it needs them.
const UNPREPARED_OUTBOX = ['-1'];

// Subscriptions change rarely; losing this many races in a row means something else is wrong.
const MAX_OUTBOX_ATTEMPTS = 5;

/** Leases live in their own hash, so a claim never rewrites the delivery's JSON. */
function withoutLease(record: WebhookDeliveryRecord): WebhookDeliveryRecord {
  return { ...record, leaseToken: null, leaseExpiresAt: null };
}

/** issuer, registrationId, record JSON, clientIds JSON: the ARGV the registration scripts share. */
function issuerRegistrationArgs(record: IssuerRegistrationRecord): string[] {
  return [record.issuer, record.registrationId, JSON.stringify(record), JSON.stringify(record.clientIds)];
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

interface Connector {
  ready(): Promise<RedisCommandClient>;
  /**
   * Whether a command can wait in the client to be written, as in node-redis's offline queue: then
   * it needs node-redis's own `timeout`, which drops it unwritten, so a call already reported as
   * failed never runs later. A client with the offline queue disabled fails such a call at once.
   */
  queuesUnwrittenCommands: boolean;
  close(): Promise<void>;
}

interface OwnedClient extends RedisCommandClient {
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  readonly isOpen: boolean;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

function createConnector(connection: RedisConnection, connectTimeoutMs: number): Connector {
  if ('client' in connection) {
    if (typeof connection.client?.sendCommand !== 'function') {
      throw new TypeError(
        'redisStore: `client` must be a node-redis v5 client (createClient() from `redis`)',
      );
    }
    const { client } = connection;
    const options = (client as { options?: { disableOfflineQueue?: boolean } }).options;
    return {
      ready: async () => client,
      queuesUnwrittenCommands: options?.disableOfflineQueue !== true,
      close: async () => {},
    };
  }
  const { url } = connection;
  if (typeof url !== 'string' || !URL.canParse(url) || !/^rediss?:$/.test(new URL(url).protocol)) {
    throw new TypeError(
      'redisStore: pass `{ url }` with a redis:// or rediss:// URL, or `{ client }` with a node-redis client',
    );
  }

  let client: OwnedClient | undefined;
  let connected: Promise<OwnedClient> | undefined;
  // Once connected, node-redis reconnects by itself: later calls skip the connect deadline.
  let isConnected = false;
  let isClosed = false;

  async function open(): Promise<OwnedClient> {
    const { createClient } = await import('redis').catch((error: unknown) => {
      throw new Error('redisStore: `{ url }` needs the `redis` package (v5) installed', { cause: error });
    });
    if (isClosed) throw new StoreUnavailableError('The Redis store has been closed.');
    const created: OwnedClient = createClient({
      url,
      // Fail calls at once while disconnected rather than queueing them behind an outage.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: connectTimeoutMs,
        reconnectStrategy: (retries: number) => Math.min(2 ** retries * 50, MAX_RECONNECT_DELAY_MS),
      },
    });
    // node-redis reports every failed (re)connection attempt here, and an 'error' event without a
    // listener would crash the process. The calls those failures affect reject on their own.
    created.on('error', () => {});
    client = created;
    await created.connect();
    isConnected = true;
    return created;
  }

  return {
    queuesUnwrittenCommands: false,
    ready() {
      if (isConnected && client) return Promise.resolve(client);
      connected ??= open();
      return withDeadline(
        connected,
        connectTimeoutMs,
        () => new StoreUnavailableError(`Redis did not accept a connection within ${connectTimeoutMs} ms.`),
      );
    },
    async close() {
      isClosed = true;
      if (client?.isOpen) await client.close();
    },
  };
}
