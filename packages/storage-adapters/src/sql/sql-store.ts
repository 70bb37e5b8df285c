import { createHash } from 'node:crypto';
import type {
  ApiKeyRecord,
  FindOrCreateUserResult,
  OrganizationRecord,
  RefreshTokenRecord,
  SigningKeyRecord,
  SigningKeyUse,
  Store,
  UserRecord,
  UserVerification,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionPatch,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { verificationFlags } from '@rialto-exchange/core';
import { type Insertable, Kysely, type Selectable, type Transaction } from 'kysely';
import { createBatcher } from '../internal/batcher.js';
import { deliveriesFor, newUser } from '../internal/outbox.js';
import { EXPIRY_MARGIN_SECONDS, epochSeconds, FAMILY_REVOCATION_MIN_SECONDS } from '../internal/retention.js';
import { runMigrations } from './migrations.js';
import type { Database } from './schema.js';
import { resolveDialect, type SqlConnection } from './sql-dialect.js';
import { isRetryableConflict, isUniqueViolation, toStoreError } from './sql-errors.js';
import { TablePrefixPlugin } from './table-prefix-plugin.js';

/**
 * Settings of `sqlStore()` that apply to every dialect; every one has a default.
 *
 * @example
 * sqlStore({ dialect: 'postgres', connectionString, tablePrefix: 'exchange_', autoMigrate: false });
 */
export interface SqlStoreSettings {
  /**
   * Prepended to every table and index name, so several deployments (or tests) can share one
   * database. Lower-case letters, digits and `_`, at most 30 characters, to stay within the
   * identifier limits of PostgreSQL (63) and MySQL (64).
   * @default 'rialto_'
   */
  tablePrefix?: string;
  /**
   * Run pending migrations before the first operation. Turn it off to run `migrate()` from a
   * release step instead, with a database user that may alter the schema.
   * @default true
   */
  autoMigrate?: boolean;
  /**
   * How long to wait for a new connection (and, with PostgreSQL, for a free one in the pool) before
   * failing with `StoreUnavailableError`. Ignored when the host passes its own pool or database.
   * @default 5000
   */
  connectTimeoutMs?: number;
}

/**
 * Which database to use and how to reach it, plus the store's settings.
 *
 * @example
 * const options: SqlStoreOptions = { dialect: 'sqlite', filename: './rialto.db', tablePrefix: 'rialto_' };
 */
export type SqlStoreOptions = SqlConnection & SqlStoreSettings;

/**
 * A SQL-backed store, as returned by `sqlStore()`.
 *
 * @example
 * const store: SqlStore = sqlStore({ dialect: 'postgres', connectionString, autoMigrate: false });
 * await store.migrate();
 */
export interface SqlStore extends Store {
  /**
   * Creates or upgrades the store's tables to the latest schema version. Idempotent, and safe when
   * several instances call it at once (they take a database lock in turn).
   */
  migrate(): Promise<void>;
  /** Closes the pool or file the store opened; a pool or database passed in stays open. */
  close(): Promise<void>;
}

const DEFAULT_TABLE_PREFIX = 'rialto_';
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const TABLE_PREFIX_PATTERN = /^([a-z][a-z0-9_]{0,29})?$/;
// A unique violation or deadlock means another writer committed first; the next attempt reads its
// row. More attempts than this means something other than a race is going on.
const MAX_WRITE_ATTEMPTS = 5;
// Expired tokens and stale revocations are deleted after this many saves by one instance.
const SWEEP_EVERY_SAVES = 1_000;
// Rows per batched statement (5 parameters each at most): far below every dialect's parameter limit.
const MAX_BATCH = 100;

type RefreshTokenRow = Insertable<Database['refresh_tokens']>;

/**
 * A Store on PostgreSQL, MySQL/MariaDB or SQLite, through Kysely and the dialect's usual driver
 * (`pg`, `mysql2`, `better-sqlite3`, installed by the host). Safe for any number of instances on
 * one PostgreSQL or MySQL database; SQLite suits a single host.
 *
 * Atomicity comes from the database: UNIQUE constraints decide every race (issuer, identity,
 * email, the first signing key) and the loser re-reads the winner's row; multi-row writes
 * (organization and its first key, user and identity link) are one transaction, so a connection
 * lost halfway leaves nothing; a refresh token is consumed by the DELETE that removes it, and only
 * the caller whose DELETE removed the row gets the record.
 *
 * Tables are created by versioned migrations on first use (or by `migrate()`), under a lock so
 * that instances starting together do not collide. Connection failures (refused, reset, timed out,
 * pool exhausted, server shutting down, SQLite locked past its busy timeout) reject with
 * `StoreUnavailableError`; the pool reconnects on the next call.
 *
 * @example
 * import { sqlStore } from '@rialto-exchange/storage-adapters';
 *
 * const store = sqlStore({ dialect: 'postgres', connectionString: process.env.DATABASE_URL });
 * app.use(rialtoExchange({ issuer: 'https://api.example.com', store }));
 *
 * @example
 * // The host's pool, and migrations run by the deploy pipeline rather than at startup.
 * const store = sqlStore({ dialect: 'mysql', pool: mysql2.createPool(process.env.MYSQL_URL), autoMigrate: false });
 * await store.migrate();
 *
 * @example
 * const store = sqlStore({ dialect: 'sqlite', filename: './rialto.db' });
 */
export function sqlStore(options: SqlStoreOptions): SqlStore {
  const tablePrefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  if (typeof tablePrefix !== 'string' || !TABLE_PREFIX_PATTERN.test(tablePrefix)) {
    throw new TypeError(
      'sqlStore: `tablePrefix` must be lower-case letters, digits and underscores, starting with a letter, at most 30 characters',
    );
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs <= 0) {
    throw new TypeError('sqlStore: `connectTimeoutMs` must be a positive number');
  }
  const { dialect, isOwned } = resolveDialect(options, connectTimeoutMs);
  const db = new Kysely<Database>({ dialect, plugins: [new TablePrefixPlugin(tablePrefix)] });

  let migrated: Promise<void> | undefined;
  function migrate(): Promise<void> {
    migrated ??= runMigrations(db, options.dialect, tablePrefix).catch((error: unknown) => {
      // Let the next call try again, e.g. once the database is reachable.
      migrated = undefined;
      throw error;
    });
    return migrated;
  }

  async function guarded<T>(operation: () => Promise<T>): Promise<T> {
    try {
      if (options.autoMigrate !== false) await migrate();
      return await operation();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** Runs `attempt` again, from its first read, each time it loses a race that `isLostRace` recognizes. */
  async function withRetries<T>(
    isLostRace: (error: unknown) => boolean,
    attempt: () => Promise<T>,
  ): Promise<T> {
    for (let attempts = 1; ; attempts++) {
      try {
        return await attempt();
      } catch (error) {
        if (attempts >= MAX_WRITE_ATTEMPTS || !isLostRace(error)) throw error;
      }
    }
  }

  async function readOrganization(
    where: { orgId: string } | { issuer: string },
  ): Promise<OrganizationRecord | null> {
    const query = db.selectFrom('organizations').selectAll();
    const row = await ('orgId' in where
      ? query.where('org_id', '=', where.orgId)
      : query.where('issuer_key', '=', sha256(where.issuer))
    ).executeTakeFirst();
    return row ? toOrganization(row) : null;
  }

  // A batch of one (each exchange, on a quiet service) runs these two statements. Building and
  // compiling a Kysely query costs more CPU than the database round trip, so they are compiled once
  // and only their parameters change.
  const usersByIdentity = () =>
    db
      .selectFrom('identities')
      .innerJoin('users', 'users.user_id', 'identities.user_id')
      .selectAll('users')
      .select('identities.identity_key');
  const userByIdentityStatement = usersByIdentity().where('identities.identity_key', '=', '').compile();
  const insertRefreshTokenStatement = db
    .insertInto('refresh_tokens')
    .values({ jti: '', family_id: '', org_id: '', user_id: '', expires_at: 0 })
    .compile();

  // Every exchange saves a refresh token. Saves that arrive together go out as one INSERT: one
  // round trip and one commit, so one fsync, for all of them. A multi-row INSERT is atomic, so a
  // failed batch fails each save in it and stores none.
  const insertRefreshTokenRows = createBatcher<RefreshTokenRow>(async (rows) => {
    const [only] = rows;
    if (rows.length === 1 && only) {
      const { jti, family_id, org_id, user_id, expires_at } = only;
      await db.executeQuery({
        ...insertRefreshTokenStatement,
        parameters: [jti, family_id, org_id, user_id, expires_at],
      });
    } else {
      await db.insertInto('refresh_tokens').values(rows).execute();
    }
    return undefined;
  }, MAX_BATCH);

  // Every exchange also looks its user up by identity: lookups that arrive together are one SELECT.
  const findUsersByIdentityKey = createBatcher<string, UserRecord | null>(async (keys) => {
    const single: typeof userByIdentityStatement = { ...userByIdentityStatement, parameters: keys };
    const rows =
      keys.length === 1
        ? (await db.executeQuery(single)).rows
        : await usersByIdentity()
            .where('identities.identity_key', 'in', [...new Set(keys)])
            .execute();
    const rowsByKey = new Map(rows.map((row) => [row.identity_key, row]));
    return keys.map((key) => {
      const row = rowsByKey.get(key);
      return row ? toUser(row) : null;
    });
  }, MAX_BATCH);

  function findUserByIdentity(orgId: string, iss: string, sub: string): Promise<UserRecord | null> {
    return findUsersByIdentityKey(identityKey(orgId, iss, sub));
  }

  async function newestSigningKey(use: SigningKeyUse): Promise<SigningKeyRecord | undefined> {
    const row = await db
      .selectFrom('signing_keys')
      .selectAll()
      .where('key_use', '=', use)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toSigningKey(row);
  }

  async function readUser(orgId: string, userId: string): Promise<UserRecord | null> {
    const row = await db
      .selectFrom('users')
      .selectAll()
      .where('user_id', '=', userId)
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async function readSubscription(
    orgId: string,
    subscriptionId: string,
  ): Promise<WebhookSubscriptionRecord | null> {
    const row = await db
      .selectFrom('webhook_subscriptions')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return row ? toSubscription(row) : null;
  }

  /** Fan-out inside the caller's transaction: the deliveries commit with the change that caused them. */
  async function insertDeliveries(
    trx: Transaction<Database>,
    events: readonly WebhookEventRecord[],
  ): Promise<void> {
    if (events.length === 0) return;
    const orgIds = [...new Set(events.map((event) => event.orgId))];
    const subscriptions = (
      await trx.selectFrom('webhook_subscriptions').selectAll().where('org_id', 'in', orgIds).execute()
    ).map(toSubscription);
    const deliveries = deliveriesFor(events, (orgId) => subscriptions.filter((sub) => sub.orgId === orgId));
    if (deliveries.length > 0)
      await trx.insertInto('webhook_deliveries').values(deliveries.map(fromDelivery)).execute();
  }

  let savesSinceSweep = 0;
  async function sweep(now: number): Promise<void> {
    await db
      .deleteFrom('refresh_tokens')
      .where('expires_at', '<', now - EXPIRY_MARGIN_SECONDS)
      .execute();
    // A revocation is kept while any token of its family remains, however long that token lives.
    await db
      .deleteFrom('revoked_token_families')
      .where('revoked_at', '<', now - FAMILY_REVOCATION_MIN_SECONDS)
      .where(({ exists, not, selectFrom }) =>
        not(
          exists(
            selectFrom('refresh_tokens')
              .select('refresh_tokens.jti')
              .whereRef('refresh_tokens.family_id', '=', 'revoked_token_families.family_id'),
          ),
        ),
      )
      .execute();
  }

  return {
    createOrganization: (org, firstKey) =>
      guarded(() =>
        withRetries(isRetryableConflict, async () => {
          try {
            await db.transaction().execute(async (trx) => {
              await trx.insertInto('organizations').values(fromOrganization(org)).execute();
              await insertApiKey(trx, firstKey);
            });
            return 'created';
          } catch (error) {
            // The violated constraint is not reported the same way by every driver; asking is portable.
            if (isUniqueViolation(error) && (await readOrganization({ issuer: org.issuer })))
              return 'issuer_taken';
            throw error;
          }
        }),
      ),

    getOrganization: (orgId) => guarded(() => readOrganization({ orgId })),

    findOrganizationByIssuer: (issuer) => guarded(() => readOrganization({ issuer })),

    updateOrganization: (orgId, patch, now) =>
      guarded(async () => {
        await db
          .updateTable('organizations')
          .set({
            ...(patch.name === undefined ? {} : { name: patch.name }),
            ...(patch.audience === undefined ? {} : { audience: JSON.stringify(patch.audience) }),
            ...(patch.clientIds === undefined ? {} : { client_ids: JSON.stringify(patch.clientIds) }),
            ...(patch.allowedAlgorithms === undefined
              ? {}
              : { allowed_algorithms: JSON.stringify(patch.allowedAlgorithms) }),
            ...(patch.emailLinking === undefined ? {} : { email_linking: patch.emailLinking }),
            ...(patch.provisioning === undefined ? {} : { provisioning: patch.provisioning }),
            ...(patch.suspendedAt === undefined ? {} : { suspended_at: patch.suspendedAt }),
            updated_at: now,
          })
          .where('org_id', '=', orgId)
          .execute();
        // Read back rather than count rows: MySQL counts only rows whose values changed, unless the
        // host's pool asked for found rows.
        return readOrganization({ orgId });
      }),

    addApiKey: (key) => guarded(() => insertApiKey(db, key)),

    listActiveApiKeys: (orgId) =>
      guarded(async () => {
        const rows = await db
          .selectFrom('api_keys')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('revoked_at', 'is', null)
          .orderBy('created_at')
          .orderBy('key_id')
          .execute();
        return rows.map(toApiKey);
      }),

    revokeApiKey: (orgId, keyId, now) =>
      guarded(async () => {
        const { numUpdatedRows } = await db
          .updateTable('api_keys')
          .set({ revoked_at: now })
          .where('org_id', '=', orgId)
          .where('key_id', '=', keyId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return numUpdatedRows === 1n;
      }),

    findOrCreateUser: (input) =>
      guarded(() =>
        withRetries<FindOrCreateUserResult>(isLostUserRace, async () => {
          const existing = await findUserByIdentity(input.orgId, input.iss, input.sub);
          if (existing) return { outcome: 'existing', user: existing };

          const identity = {
            identity_key: identityKey(input.orgId, input.iss, input.sub),
            org_id: input.orgId,
            iss: input.iss,
            sub: input.sub,
            linked_at: input.now,
          };
          const sameEmail = await db
            .selectFrom('users')
            .selectAll()
            .where('email_key', '=', emailKey(input.orgId, input.email))
            .executeTakeFirst();
          if (sameEmail) {
            if (!input.mayLinkByEmail) {
              // The user may have been created together with this very identity since the first read.
              const linked = await findUserByIdentity(input.orgId, input.iss, input.sub);
              return linked ? { outcome: 'existing', user: linked } : { outcome: 'conflict' };
            }
            // A unique violation here means a concurrent call linked this identity: retry finds it.
            await db
              .insertInto('identities')
              .values({ ...identity, user_id: sameEmail.user_id })
              .execute();
            return { outcome: 'linked', user: toUser(sameEmail) };
          }
          if (input.mayCreate === false) return { outcome: 'not_provisioned' };

          const user = newUser(input);
          // A unique violation on the email or the identity means a concurrent call created the
          // user first; the transaction rolls back whole and the retry finds that user.
          await db.transaction().execute(async (trx) => {
            await trx.insertInto('users').values(fromUser(user)).execute();
            await trx
              .insertInto('identities')
              .values({ ...identity, user_id: user.userId })
              .execute();
            await insertDeliveries(trx, input.eventsIfCreated ?? []);
          });
          return { outcome: 'created', user };
        }),
      ),

    getUser: (orgId, userId) => guarded(() => readUser(orgId, userId)),

    getUserById: (userId) =>
      guarded(async () => {
        const row = await db.selectFrom('users').selectAll().where('user_id', '=', userId).executeTakeFirst();
        return row ? toUser(row) : null;
      }),

    updateUserVerification: (input) =>
      guarded(() =>
        withRetries(isRetryableConflict, async () => {
          const { expected, next } = input;
          // The WHERE on the expected state is the compare-and-set: of racing updates, one matches.
          const isUpdated = await db.transaction().execute(async (trx) => {
            const { numUpdatedRows } = await trx
              .updateTable('users')
              .set({ ...verificationColumns(next), updated_at: input.now })
              .where('user_id', '=', input.userId)
              .where('org_id', '=', input.orgId)
              .where('onboarding_completed', '=', flag(expected.onboardingCompleted))
              .where('kyc_status', '=', expected.kycStatus)
              .where('accreditation_status', '=', expected.accreditationStatus)
              .executeTakeFirst();
            if (numUpdatedRows !== 1n) return false;
            await insertDeliveries(trx, input.events);
            return true;
          });
          const user = await readUser(input.orgId, input.userId);
          if (!user) return { outcome: 'not_found' } as const;
          if (!isUpdated) return { outcome: 'stale', user } as const;
          // What this call wrote, even if a later change has landed since.
          return { outcome: 'updated', user: { ...user, ...next, updatedAt: input.now } } as const;
        }),
      ),

    createUser: ({ user, events }) =>
      guarded(() =>
        withRetries(isRetryableConflict, async () => {
          try {
            await db.transaction().execute(async (trx) => {
              await trx.insertInto('users').values(fromUser(user)).execute();
              await insertDeliveries(trx, events);
            });
            return 'created' as const;
          } catch (error) {
            if (isUniqueViolation(error)) return 'email_taken' as const;
            throw error;
          }
        }),
      ),

    deleteUser: ({ orgId, userId, events }) =>
      guarded(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute(async (trx) => {
            const { numDeletedRows } = await trx
              .deleteFrom('users')
              .where('user_id', '=', userId)
              .where('org_id', '=', orgId)
              .executeTakeFirst();
            if (numDeletedRows !== 1n) return false;
            await trx.deleteFrom('identities').where('user_id', '=', userId).execute();
            await trx.deleteFrom('refresh_tokens').where('user_id', '=', userId).execute();
            await insertDeliveries(trx, events);
            return true;
          }),
        ),
      ),

    // One transaction over every table that names the org: all of it goes, or none.
    deleteOrganization: (orgId) =>
      guarded(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute(async (trx) => {
            for (const table of [
              'api_keys',
              'identities',
              'users',
              'refresh_tokens',
              'webhook_deliveries',
              'webhook_subscriptions',
            ] as const) {
              await trx.deleteFrom(table).where('org_id', '=', orgId).execute();
            }
            const { numDeletedRows } = await trx
              .deleteFrom('organizations')
              .where('org_id', '=', orgId)
              .executeTakeFirst();
            return numDeletedRows === 1n;
          }),
        ),
      ),

    setUserRole: ({ orgId, userId, role, now }) =>
      guarded(async () => {
        // One UPDATE touching only the role: a concurrent verification change is kept.
        const { numUpdatedRows } = await db
          .updateTable('users')
          .set({ role, updated_at: now })
          .where('user_id', '=', userId)
          .where('org_id', '=', orgId)
          .executeTakeFirst();
        return numUpdatedRows === 1n ? readUser(orgId, userId) : null;
      }),

    createWebhookSubscription: (record) =>
      guarded(async () => {
        await db.insertInto('webhook_subscriptions').values(fromSubscription(record)).execute();
      }),

    getWebhookSubscription: (orgId, subscriptionId) => guarded(() => readSubscription(orgId, subscriptionId)),

    listWebhookSubscriptions: (orgId) =>
      guarded(async () => {
        const rows = await db
          .selectFrom('webhook_subscriptions')
          .selectAll()
          .where('org_id', '=', orgId)
          .orderBy('created_at')
          .orderBy('subscription_id')
          .execute();
        return rows.map(toSubscription);
      }),

    updateWebhookSubscription: (orgId, subscriptionId, patch, now) =>
      guarded(async () => {
        await db
          .updateTable('webhook_subscriptions')
          .set({ ...subscriptionColumns(patch), updated_at: now })
          .where('subscription_id', '=', subscriptionId)
          .where('org_id', '=', orgId)
          .execute();
        return readSubscription(orgId, subscriptionId);
      }),

    deleteWebhookSubscription: (orgId, subscriptionId) =>
      guarded(async () => {
        const { numDeletedRows } = await db
          .deleteFrom('webhook_subscriptions')
          .where('subscription_id', '=', subscriptionId)
          .where('org_id', '=', orgId)
          .executeTakeFirst();
        return numDeletedRows === 1n;
      }),

    enqueueWebhookEvents: (events) =>
      guarded(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute((trx) => insertDeliveries(trx, events)),
        ),
      ),

    addWebhookDelivery: (record) =>
      guarded(async () => {
        await db.insertInto('webhook_deliveries').values(fromDelivery(record)).execute();
      }),

    claimWebhookDeliveries: ({ now, limit, leaseSeconds, leaseToken }) =>
      guarded(async () => {
        const candidates = await db
          .selectFrom('webhook_deliveries')
          .select('delivery_id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
          .orderBy('next_attempt_at')
          .orderBy('delivery_id')
          .limit(limit)
          .execute();
        // Each row is taken by a conditional UPDATE, which the database applies to the latest
        // committed row: of workers racing for one delivery, exactly one sees its WHERE still hold.
        for (const { delivery_id } of candidates) {
          await db
            .updateTable('webhook_deliveries')
            .set({ lease_token: leaseToken, lease_expires_at: now + leaseSeconds })
            .where('delivery_id', '=', delivery_id)
            .where('status', '=', 'pending')
            // Re-checked: since the SELECT, another worker may have attempted it and rescheduled it.
            .where('next_attempt_at', '<=', now)
            .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
            .execute();
        }
        if (candidates.length === 0) return [];
        const rows = await db
          .selectFrom('webhook_deliveries')
          .selectAll()
          .where('lease_token', '=', leaseToken)
          .orderBy('next_attempt_at')
          .orderBy('delivery_id')
          .execute();
        return rows.map(toDelivery);
      }),

    completeWebhookAttempt: (input) =>
      guarded(async () => {
        const row = await db
          .selectFrom('webhook_deliveries')
          .select('attempts')
          .where('delivery_id', '=', input.deliveryId)
          .where('lease_token', '=', input.leaseToken)
          .executeTakeFirst();
        if (!row) return false;
        // Only the lease holder writes while the lease token matches, so the attempts read are current.
        const { numUpdatedRows } = await db
          .updateTable('webhook_deliveries')
          .set({
            status: input.status,
            next_attempt_at: input.nextAttemptAt,
            lease_token: null,
            lease_expires_at: null,
            attempts: JSON.stringify([...JSON.parse(row.attempts), input.attempt]),
            updated_at: input.now,
          })
          .where('delivery_id', '=', input.deliveryId)
          .where('lease_token', '=', input.leaseToken)
          .executeTakeFirst();
        return numUpdatedRows === 1n;
      }),

    listWebhookDeliveries: (orgId, subscriptionId, limit) =>
      guarded(async () => {
        const rows = await db
          .selectFrom('webhook_deliveries')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('subscription_id', '=', subscriptionId)
          .orderBy('created_at', 'desc')
          .orderBy('delivery_id', 'desc')
          .limit(limit)
          .execute();
        return rows.map(toDelivery);
      }),

    saveRefreshToken(record) {
      // The row is built at the call: the caller may reuse its object before the batch goes out.
      const row: RefreshTokenRow = {
        jti: record.jti,
        family_id: record.familyId,
        org_id: record.orgId,
        user_id: record.userId,
        expires_at: record.expiresAt,
      };
      return guarded(async () => {
        await insertRefreshTokenRows(row);
        if (++savesSinceSweep >= SWEEP_EVERY_SAVES) {
          savesSinceSweep = 0;
          // Housekeeping only: nothing depends on it finishing, and the next sweep retries.
          sweep(epochSeconds()).catch(() => {});
        }
      });
    },

    consumeRefreshToken: (jti, now) =>
      guarded(async () => {
        const row = await db
          .selectFrom('refresh_tokens')
          .selectAll()
          .where('jti', '=', jti)
          .executeTakeFirst();
        if (!row) return null;
        // Rows are never updated, so what was read is what is deleted, and only one DELETE removes it.
        // (MySQL has no DELETE ... RETURNING.)
        const { numDeletedRows } = await db
          .deleteFrom('refresh_tokens')
          .where('jti', '=', jti)
          .executeTakeFirst();
        if (numDeletedRows !== 1n || Number(row.expires_at) <= now) return null;
        // Checked after the DELETE, so a revocation that lands in between is seen too.
        const revoked = await db
          .selectFrom('revoked_token_families')
          .select('family_id')
          .where('family_id', '=', row.family_id)
          .executeTakeFirst();
        if (revoked) return null;
        return {
          jti: row.jti,
          familyId: row.family_id,
          orgId: row.org_id,
          userId: row.user_id,
          expiresAt: Number(row.expires_at),
        } satisfies RefreshTokenRecord;
      }),

    revokeRefreshTokenFamily: (familyId, now) =>
      guarded(async () => {
        // The marker first: if the DELETE never runs, the remaining tokens are refused anyway.
        try {
          await db
            .insertInto('revoked_token_families')
            .values({ family_id: familyId, revoked_at: now })
            .execute();
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
        await db.deleteFrom('refresh_tokens').where('family_id', '=', familyId).execute();
      }),

    ensureSigningKey: (candidate) =>
      guarded(async () => {
        const stored = await newestSigningKey(candidate.use);
        if (stored) return stored;
        try {
          await db
            .insertInto('signing_keys')
            .values({ ...fromSigningKey(candidate), ensure_slot: candidate.use })
            .execute();
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
        return (await newestSigningKey(candidate.use)) as SigningKeyRecord;
      }),

    addSigningKey: (record) =>
      guarded(async () => {
        try {
          await db.insertInto('signing_keys').values(fromSigningKey(record)).execute();
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
      }),

    listSigningKeys: (use) =>
      guarded(async () => {
        const rows = await db
          .selectFrom('signing_keys')
          .selectAll()
          .where('key_use', '=', use)
          .orderBy('created_at', 'desc')
          .orderBy('kid')
          .execute();
        return rows.map(toSigningKey);
      }),

    migrate: () =>
      migrate().catch((error: unknown) => {
        throw toStoreError(error);
      }),

    async close() {
      if (isOwned) await db.destroy();
    },
  };
}

// A unique violation on the email or the identity: a concurrent call created or linked first. A
// deadlock: MySQL aborted one of two such calls. Either way the next attempt reads the winner's rows.
function isLostUserRace(error: unknown): boolean {
  return isUniqueViolation(error) || isRetryableConflict(error);
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

// JSON arrays keep composite keys unambiguous whatever characters the parts contain.
function identityKey(orgId: string, iss: string, sub: string): string {
  return sha256(JSON.stringify([orgId, iss, sub]));
}

function emailKey(orgId: string, email: string): string {
  return sha256(JSON.stringify([orgId, email]));
}

async function insertApiKey(db: Kysely<Database> | Transaction<Database>, key: ApiKeyRecord): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({
      key_id: key.keyId,
      org_id: key.orgId,
      hash: key.hash,
      created_at: key.createdAt,
      revoked_at: key.revokedAt,
    })
    .execute();
}

function fromOrganization(org: OrganizationRecord) {
  return {
    org_id: org.orgId,
    issuer: org.issuer,
    issuer_key: sha256(org.issuer),
    name: org.name,
    audience: JSON.stringify(org.audience),
    client_ids: JSON.stringify(org.clientIds),
    allowed_algorithms: JSON.stringify(org.allowedAlgorithms),
    email_linking: org.emailLinking,
    provisioning: org.provisioning,
    suspended_at: org.suspendedAt,
    created_at: org.createdAt,
    updated_at: org.updatedAt,
  };
}

function toOrganization(row: Selectable<Database['organizations']>): OrganizationRecord {
  return {
    orgId: row.org_id,
    name: row.name,
    issuer: row.issuer,
    audience: JSON.parse(row.audience),
    clientIds: JSON.parse(row.client_ids),
    allowedAlgorithms: JSON.parse(row.allowed_algorithms),
    emailLinking: row.email_linking as OrganizationRecord['emailLinking'],
    provisioning: row.provisioning as OrganizationRecord['provisioning'],
    suspendedAt: row.suspended_at === null ? null : Number(row.suspended_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toApiKey(row: Selectable<Database['api_keys']>): ApiKeyRecord {
  return {
    keyId: row.key_id,
    orgId: row.org_id,
    hash: row.hash,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

// better-sqlite3 cannot bind booleans; 0 and 1 are valid input for every dialect's BOOLEAN.
const flag = (value: boolean) => (value ? 1 : 0);

/** The statuses, and the migration-1 flag columns kept in step so that they never disagree. */
function verificationColumns(state: UserVerification) {
  const flags = verificationFlags(state);
  return {
    onboarding_completed: flag(state.onboardingCompleted),
    kyc_status: state.kycStatus,
    accreditation_status: state.accreditationStatus,
    kyc_completed: flag(flags.kycCompleted),
    accredited: flag(flags.accredited),
    accreditation_verified: flag(flags.accreditationVerified),
  };
}

function fromUser(user: UserRecord) {
  return {
    user_id: user.userId,
    org_id: user.orgId,
    email: user.email,
    email_key: emailKey(user.orgId, user.email),
    role: user.role,
    ...verificationColumns(user),
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  };
}

function toUser(row: Selectable<Database['users']>): UserRecord {
  return {
    userId: row.user_id,
    orgId: row.org_id,
    email: row.email,
    role: row.role as UserRecord['role'],
    onboardingCompleted: Boolean(row.onboarding_completed),
    kycStatus: row.kyc_status as UserRecord['kycStatus'],
    accreditationStatus: row.accreditation_status as UserRecord['accreditationStatus'],
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function fromSigningKey(key: SigningKeyRecord) {
  return {
    key_use: key.use,
    kid: key.kid,
    alg: key.alg,
    private_jwk: JSON.stringify(key.privateJwk),
    created_at: key.createdAt,
  };
}

function toSigningKey(row: Selectable<Database['signing_keys']>): SigningKeyRecord {
  return {
    kid: row.kid,
    use: row.key_use as SigningKeyUse,
    alg: row.alg,
    privateJwk: JSON.parse(row.private_jwk),
    createdAt: Number(row.created_at),
  };
}

const nullableNumber = (value: number | string | null) => (value === null ? null : Number(value));

function fromSubscription(record: WebhookSubscriptionRecord) {
  return {
    subscription_id: record.subscriptionId,
    org_id: record.orgId,
    url: record.url,
    description: record.description,
    event_types: JSON.stringify(record.eventTypes),
    secret: record.secret,
    previous_secret: record.previousSecret,
    previous_secret_expires_at: record.previousSecretExpiresAt,
    disabled_at: record.disabledAt,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

function subscriptionColumns(patch: WebhookSubscriptionPatch) {
  return {
    ...(patch.eventTypes === undefined ? {} : { event_types: JSON.stringify(patch.eventTypes) }),
    ...(patch.secret === undefined ? {} : { secret: patch.secret }),
    ...(patch.previousSecret === undefined ? {} : { previous_secret: patch.previousSecret }),
    ...(patch.previousSecretExpiresAt === undefined
      ? {}
      : { previous_secret_expires_at: patch.previousSecretExpiresAt }),
    ...(patch.disabledAt === undefined ? {} : { disabled_at: patch.disabledAt }),
  };
}

function toSubscription(row: Selectable<Database['webhook_subscriptions']>): WebhookSubscriptionRecord {
  return {
    subscriptionId: row.subscription_id,
    orgId: row.org_id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types),
    secret: row.secret,
    previousSecret: row.previous_secret,
    previousSecretExpiresAt: nullableNumber(row.previous_secret_expires_at),
    disabledAt: nullableNumber(row.disabled_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function fromDelivery(record: WebhookDeliveryRecord) {
  return {
    delivery_id: record.deliveryId,
    subscription_id: record.subscriptionId,
    org_id: record.orgId,
    event_id: record.eventId,
    event_type: record.eventType,
    payload: record.payload,
    status: record.status,
    next_attempt_at: record.nextAttemptAt,
    lease_token: record.leaseToken,
    lease_expires_at: record.leaseExpiresAt,
    attempts: JSON.stringify(record.attempts),
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

function toDelivery(row: Selectable<Database['webhook_deliveries']>): WebhookDeliveryRecord {
  return {
    deliveryId: row.delivery_id,
    subscriptionId: row.subscription_id,
    orgId: row.org_id,
    eventId: row.event_id,
    eventType: row.event_type,
    payload: row.payload,
    status: row.status as WebhookDeliveryRecord['status'],
    nextAttemptAt: nullableNumber(row.next_attempt_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: nullableNumber(row.lease_expires_at),
    attempts: JSON.parse(row.attempts),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
