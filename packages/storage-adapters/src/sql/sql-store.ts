import type {
  ApiKeyRecord,
  FindOrCreateUserResult,
  IssuerRegistrationConflict,
  IssuerRegistrationRecord,
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
import { StoreUnavailableError, storeKit, verificationFlags } from '@rialto-exchange/core';
import {
  implementation,
  parseOptions,
  positiveNumber,
  strictOptions,
} from '@rialto-exchange/core/option-schema';
import { type Insertable, Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { z } from 'zod';
import { createBatcher } from '../internal/batcher.js';
import { withDeadline } from '../internal/deadline.js';
import { EXPIRY_MARGIN_SECONDS, epochSeconds, FAMILY_REVOCATION_MIN_SECONDS } from '../internal/retention.js';
import { clientClaimKey, emailKey, identityKey, orgIssuerKey, sha256 } from './lookup-keys.js';
import { runMigrations, withMigrationLockPerPrefix } from './migrations.js';
import { createRateLimitUpsert } from './rate-limit-upsert.js';
import type { Database } from './schema.js';
import { resolveDialect, type SqlConnection } from './sql-dialect.js';
import { isRetryableConflict, isUniqueViolation, toStoreError } from './sql-errors.js';
import { TablePrefixPlugin } from './table-prefix-plugin.js';

const TABLE_PREFIX_RULE =
  'must be lower-case letters, digits and underscores, starting with a letter, at most 30 characters';

const settingsShape = {
  /**
   * Prepended to every table and index name, so several deployments (or tests) can share one
   * database. Lower-case letters, digits and `_`, at most 30 characters, to stay within the
   * identifier limits of PostgreSQL (63) and MySQL (64).
   * @default 'rialto_'
   */
  tablePrefix: z
    .string({ error: TABLE_PREFIX_RULE })
    .regex(/^([a-z][a-z0-9_]{0,29})?$/, { error: TABLE_PREFIX_RULE })
    .default('rialto_'),
  /**
   * Run pending migrations before the first operation. Turn it off to run `migrate()` from a
   * release step instead, with a database user that may alter the schema.
   * @default true
   */
  autoMigrate: z.boolean({ error: 'must be true or false' }).default(true),
  /**
   * How long to wait for a new connection (and, with PostgreSQL, for a free one in the pool) before
   * failing with `StoreUnavailableError`. Ignored when the host passes its own pool or database.
   * @default 5000
   */
  connectTimeoutMs: positiveNumber().default(5_000),
  /**
   * Deadline of every store call, after which it fails with `StoreUnavailableError` (503). Each
   * statement also carries it to the driver (pg `query_timeout` and `statement_timeout`, mysql2's
   * query `timeout`), and a connection whose statement timed out is destroyed rather than reused.
   * A call that timed out may still have committed: its outcome is unknown. With a pool passed in,
   * only the whole-call deadline applies; configure the pool's own timeouts likewise.
   * @default 5000
   */
  // The handler answers 503 within this bound; the client retries as Retry-After invites.
  commandTimeoutMs: positiveNumber().default(5_000),
};

/**
 * Settings of `sqlStore()` that apply to every dialect; every one has a default.
 *
 * @example
 * sqlStore({ dialect: 'postgres', connectionString, tablePrefix: 'exchange_', autoMigrate: false });
 */
export interface SqlStoreSettings extends z.input<z.ZodObject<typeof settingsShape>> {}

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

// The driver's statement timeout fires first and destroys the stalled connection, so the statement
// cannot commit once the network returns; the call deadline only catches waits the drivers cannot see.
const CALL_DEADLINE_SLACK_MS = 100;
// A unique violation or deadlock means another writer committed first; the next attempt reads its
// row. More attempts than this means something other than a race is going on.
const MAX_WRITE_ATTEMPTS = 5;
// Expired tokens and stale revocations are deleted after this many saves by one instance.
const SWEEP_EVERY_SAVES = 1_000;
// Rows per batched statement (7 parameters each at most): far below every dialect's parameter limit.
const MAX_BATCH = 100;

type RefreshTokenRow = Insertable<Database['refresh_tokens']>;

const nonEmptyString = () =>
  z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' });
const anObject = (value: unknown) => typeof value === 'object' && value !== null;

/** One branch per dialect, each naming its two ways to connect: the store opens it, or the host passes it. */
function dialectOptions<Dialect extends string>(
  dialect: Dialect,
  opened: string,
  passed: string,
  what: string,
) {
  return strictOptions({
    dialect: z.literal(dialect),
    [opened]: nonEmptyString().optional(),
    [passed]: implementation(anObject, what).optional(),
    ...settingsShape,
  }).refine(
    (options: Record<string, unknown>) => (options[opened] === undefined) !== (options[passed] === undefined),
    {
      error: `need exactly one of \`${opened}\` and \`${passed}\` for the ${dialect} dialect`,
    },
  );
}

const sqlStoreOptionsSchema = z.discriminatedUnion(
  'dialect',
  [
    dialectOptions('postgres', 'connectionString', 'pool', 'a `pg` Pool'),
    dialectOptions('mysql', 'connectionString', 'pool', 'a `mysql2` pool from createPool()'),
    dialectOptions('sqlite', 'filename', 'database', 'a `better-sqlite3` Database'),
  ],
  { error: "must be 'postgres', 'mysql' or 'sqlite'" },
);

/**
 * A Store on PostgreSQL, MySQL/MariaDB or SQLite, through Kysely and the dialect's usual driver
 * (`pg`, `mysql2`, `better-sqlite3`, installed by the host). Safe for any number of instances on
 * one PostgreSQL or MySQL database; SQLite suits a single host.
 *
 * Atomicity comes from the database: UNIQUE constraints decide every race (issuer, identity,
 * email, the first signing key) and the loser re-reads the winner's row; multi-row writes
 * (organization and its first key, user and identity link) are one transaction, so a connection
 * lost halfway leaves nothing; a refresh token is used by the INSERT of its successor, whose UNIQUE
 * `parent_jti` lets exactly one successor in.
 *
 * Tables are created by versioned migrations on first use (or by `migrate()`), under a lock so
 * that instances starting together do not collide. Connection failures (refused, reset, timed out,
 * pool exhausted, server shutting down, SQLite locked past its busy timeout) and calls that miss
 * `commandTimeoutMs` reject with `StoreUnavailableError`; the pool reconnects on the next call.
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
  const { tablePrefix, autoMigrate, connectTimeoutMs, commandTimeoutMs } = parseOptions(
    sqlStoreOptionsSchema,
    options,
    'sqlStore',
  );
  const { dialect, isOwned } = resolveDialect(options, { connectTimeoutMs, commandTimeoutMs });
  const db = new Kysely<Database>({
    dialect: withMigrationLockPerPrefix(dialect, options.dialect, tablePrefix),
    plugins: [new TablePrefixPlugin(tablePrefix)],
  });

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
      if (autoMigrate) await migrate();
      // The drivers bound each statement; this bounds the call, waits for a pooled connection included.
      return await withDeadline(
        operation(),
        commandTimeoutMs + CALL_DEADLINE_SLACK_MS,
        () => new StoreUnavailableError(`The SQL database did not answer within ${commandTimeoutMs} ms.`),
      );
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

  async function readOrganization(orgId: string): Promise<OrganizationRecord | null> {
    const row = await db
      .selectFrom('organizations')
      .selectAll()
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return row ? toOrganization(row) : null;
  }

  /**
   * Writes a registration inside the caller's transaction, in the order of the contract's checks.
   * Each conflict throws, so the whole transaction rolls back.
   */
  async function insertIssuerRegistration(trx: Transaction<Database>, record: IssuerRegistrationRecord) {
    const issuerKey = sha256(record.issuer);
    await trx
      .insertInto('issuer_registrations')
      .values(fromIssuerRegistration(record))
      .execute()
      .catch(conflictOnUniqueViolation('duplicate'));
    const usage = { issuer_key: issuerKey, exclusive_registration_id: null, shared_count: 0 };
    const insertUsage = trx.insertInto('issuer_usage').values(usage);
    await (options.dialect === 'mysql'
      ? insertUsage.onDuplicateKeyUpdate({ issuer_key: issuerKey })
      : insertUsage.onConflict((conflict) => conflict.column('issuer_key').doNothing())
    ).execute();
    // The UPDATE locks the issuer's row until commit, so registrations of one issuer take turns here
    // and each sees the one before it.
    const isExclusive = record.clientIds.length === 0;
    const claimed = await trx
      .updateTable('issuer_usage')
      .$if(isExclusive, (update) =>
        update.set({ exclusive_registration_id: record.registrationId }).where('shared_count', '=', 0),
      )
      .$if(!isExclusive, (update) => update.set({ shared_count: sql`shared_count + 1` }))
      .where('issuer_key', '=', issuerKey)
      .where('exclusive_registration_id', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) throw new RegistrationConflict('issuer_taken');
    if (!isExclusive) {
      await trx
        .insertInto('issuer_client_claims')
        .values(
          record.clientIds.map((clientId) => ({
            claim_key: clientClaimKey(record.issuer, clientId),
            registration_id: record.registrationId,
          })),
        )
        .execute()
        .catch(conflictOnUniqueViolation('client_id_taken'));
    }
  }

  /** Runs a transaction that registers an issuer; a refused registration rolls back and is returned. */
  async function registering<T>(
    write: (trx: Transaction<Database>) => Promise<T>,
  ): Promise<T | IssuerRegistrationConflict> {
    return withRetries(isRetryableConflict, async () => {
      try {
        return await db.transaction().execute(write);
      } catch (error) {
        if (error instanceof RegistrationConflict) return error.conflict;
        throw error;
      }
    });
  }

  function readIssuerRegistrations(column: 'org_id' | 'issuer_key', value: string) {
    return db
      .selectFrom('issuer_registrations')
      .selectAll()
      .where(column, '=', value)
      .orderBy('created_at')
      .orderBy('registration_id')
      .execute();
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
    .values({ jti: '', family_id: '', org_id: '', user_id: '', issued_at: 0, expires_at: 0, kid: '' })
    .compile();

  // Every exchange saves a refresh token. Saves that arrive together go out as one INSERT: one
  // round trip and one commit, so one fsync, for all of them. A multi-row INSERT is atomic, so a
  // failed batch fails each save in it and stores none.
  const insertRefreshTokenRows = createBatcher<RefreshTokenRow>(async (rows) => {
    const [only] = rows;
    if (rows.length === 1 && only) {
      const { jti, family_id, org_id, user_id, issued_at, expires_at, kid } = only;
      await db.executeQuery({
        ...insertRefreshTokenStatement,
        parameters: [jti, family_id, org_id, user_id, issued_at, expires_at, kid],
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

  const hitRateLimit = createRateLimitUpsert(db, options.dialect, MAX_BATCH);

  function findUserByIdentity(orgId: string, iss: string, sub: string): Promise<UserRecord | null> {
    return findUsersByIdentityKey(identityKey(orgId, iss, sub));
  }

  async function newestSigningKey(use: SigningKeyUse): Promise<SigningKeyRecord | undefined> {
    const row = await db
      .selectFrom('signing_keys')
      .selectAll()
      .where('key_use', '=', use)
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
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
    const deliveries = storeKit.webhookDeliveriesFor(events, (orgId) =>
      subscriptions.filter((sub) => sub.orgId === orgId),
    );
    if (deliveries.length > 0)
      await trx.insertInto('webhook_deliveries').values(deliveries.map(fromDelivery)).execute();
  }

  let savesSinceSweep = 0;
  // Successors stored by rotation count too: a service that mostly refreshes must still sweep.
  function sweepNowAndThen(): void {
    if (++savesSinceSweep >= SWEEP_EVERY_SAVES) {
      savesSinceSweep = 0;
      // Housekeeping only: nothing depends on it finishing, and the next sweep retries.
      sweep(epochSeconds()).catch(() => {});
    }
  }
  async function sweep(now: number): Promise<void> {
    await db
      .deleteFrom('refresh_tokens')
      .where('expires_at', '<', now - EXPIRY_MARGIN_SECONDS)
      .execute();
    await db
      .deleteFrom('consumed_keys')
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
    createOrganization: (org, firstKey, firstIssuer) =>
      guarded(async () => {
        const outcome = await registering(async (trx) => {
          await trx.insertInto('organizations').values(fromOrganization(org, firstIssuer)).execute();
          await insertApiKey(trx, firstKey);
          await insertIssuerRegistration(trx, firstIssuer);
          return 'created' as const;
        });
        // A new org cannot register an issuer twice.
        return outcome === 'duplicate' ? 'issuer_taken' : outcome;
      }),

    getOrganization: (orgId) => guarded(() => readOrganization(orgId)),

    addIssuerRegistration: (record) =>
      guarded(() =>
        registering(async (trx) => {
          await insertIssuerRegistration(trx, record);
          return 'added' as const;
        }),
      ),

    listIssuerRegistrations: (orgId) =>
      guarded(async () => (await readIssuerRegistrations('org_id', orgId)).map(toIssuerRegistration)),

    findIssuerRegistrations: (issuer) =>
      guarded(async () =>
        (await readIssuerRegistrations('issuer_key', sha256(issuer)))
          .filter((row) => row.issuer === issuer)
          .map(toIssuerRegistration),
      ),

    removeIssuerRegistration: (orgId, registrationId) =>
      guarded(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute(async (trx) => {
            const row = await trx
              .selectFrom('issuer_registrations')
              .selectAll()
              .where('registration_id', '=', registrationId)
              .where('org_id', '=', orgId)
              .executeTakeFirst();
            return row ? removeRegistration(trx, row) : false;
          }),
        ),
      ),

    updateOrganization: (orgId, patch, now) =>
      guarded(async () => {
        await db
          .updateTable('organizations')
          .set({
            ...(patch.name === undefined ? {} : { name: patch.name }),
            ...(patch.audience === undefined ? {} : { audience: JSON.stringify(patch.audience) }),
            ...(patch.provisioning === undefined ? {} : { provisioning: patch.provisioning }),
            ...(patch.suspendedAt === undefined ? {} : { suspended_at: patch.suspendedAt }),
            updated_at: now,
          })
          .where('org_id', '=', orgId)
          .execute();
        // Read back rather than count rows: MySQL counts only rows whose values changed, unless the
        // host's pool asked for found rows.
        return readOrganization(orgId);
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

          const user = input.newUser;
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
            const registrations = await trx
              .selectFrom('issuer_registrations')
              .selectAll()
              .where('org_id', '=', orgId)
              .execute();
            for (const registration of registrations) await removeRegistration(trx, registration);
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

    countPendingWebhookDeliveries: (now) =>
      guarded(async () => {
        const { pending } = await db
          .selectFrom('webhook_deliveries')
          .select((eb) => eb.fn.countAll<number | string | bigint>().as('pending'))
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
          .executeTakeFirstOrThrow();
        return Number(pending);
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
      const row = fromRefreshToken(record);
      return guarded(async () => {
        await insertRefreshTokenRows(row);
        sweepNowAndThen();
      });
    },

    rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      // Built at the call: the caller may reuse its object before the statement goes out.
      const row = { ...fromRefreshToken(successor), parent_jti: jti };
      return guarded(() =>
        withRetries(isRetryableConflict, async () => {
          // One INSERT uses the token and stores its successor: it copies nothing unless the token
          // is live, and the UNIQUE parent_jti refuses a second successor. Being one autocommitted
          // statement, a command that outlived the client's deadline either never ran or ran whole,
          // and the retry's classification below sees which.
          try {
            const { numInsertedOrUpdatedRows } = await db
              .insertInto('refresh_tokens')
              .columns([
                'jti',
                'family_id',
                'org_id',
                'user_id',
                'issued_at',
                'expires_at',
                'kid',
                'parent_jti',
              ])
              .expression(({ selectFrom }) =>
                selectFrom('refresh_tokens')
                  .select((eb) => [
                    eb.val(row.jti).as('jti'),
                    eb.val(row.family_id).as('family_id'),
                    eb.val(row.org_id).as('org_id'),
                    eb.val(row.user_id).as('user_id'),
                    eb.val(row.issued_at).as('issued_at'),
                    eb.val(row.expires_at).as('expires_at'),
                    eb.val(row.kid).as('kid'),
                    eb.val(row.parent_jti).as('parent_jti'),
                  ])
                  .where('jti', '=', jti)
                  .where('expires_at', '>', now)
                  .where(({ not, exists, selectFrom }) =>
                    not(
                      exists(
                        selectFrom('revoked_token_families')
                          .select('revoked_token_families.family_id')
                          .whereRef('revoked_token_families.family_id', '=', 'refresh_tokens.family_id'),
                      ),
                    ),
                  ),
              )
              .executeTakeFirst();
            if (numInsertedOrUpdatedRows === 1n) {
              sweepNowAndThen();
              return { outcome: 'rotated', successor: toRefreshToken(row) };
            }
          } catch (error) {
            if (!isUniqueViolation(error)) throw error;
          }
          // Not live now: unknown, or used, and "used" never goes back, so these reads need no lock.
          const next = await db
            .selectFrom('refresh_tokens')
            .selectAll()
            .where('parent_jti', '=', jti)
            .executeTakeFirst();
          if (!next) return { outcome: 'unknown' };
          const [revoked, nextUsed] = await Promise.all([
            db
              .selectFrom('revoked_token_families')
              .select('family_id')
              .where('family_id', '=', next.family_id)
              .executeTakeFirst(),
            db
              .selectFrom('refresh_tokens')
              .select('jti')
              .where('parent_jti', '=', next.jti)
              .executeTakeFirst(),
          ]);
          if (revoked) return { outcome: 'unknown' };
          if (!nextUsed && now < Number(next.issued_at) + graceSeconds)
            return { outcome: 'retried', successor: toRefreshToken(next) };
          return { outcome: 'reused' };
        }),
      );
    },

    consumeOnce: (key, expiresAt, now) =>
      guarded(async () => {
        const insert = async () => {
          try {
            await db
              .insertInto('consumed_keys')
              .values({ consumed_key: key, expires_at: expiresAt })
              .execute();
            return true;
          } catch (error) {
            if (isUniqueViolation(error)) return false;
            throw error;
          }
        };
        if (await insert()) return true;
        // The key is taken; if only by an expired row, the caller whose DELETE removes it may retry.
        // Of several such callers one DELETE removes the row and one INSERT wins.
        const { numDeletedRows } = await db
          .deleteFrom('consumed_keys')
          .where('consumed_key', '=', key)
          .where('expires_at', '<=', now)
          .executeTakeFirst();
        return numDeletedRows === 1n && (await insert());
      }),

    hitRateLimit: (hit) => guarded(() => hitRateLimit(hit)),

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
          .orderBy('kid', 'desc')
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

/** The issuer columns keep a snapshot of the first issuer, for readers of the pre-version-3 schema. */
function fromOrganization(org: OrganizationRecord, firstIssuer: IssuerRegistrationRecord) {
  return {
    org_id: org.orgId,
    issuer: firstIssuer.issuer,
    // Unique since version 1; issuers are no longer unique per org, so it holds a per-org value.
    issuer_key: sha256(JSON.stringify(['org', org.orgId])),
    name: org.name,
    audience: JSON.stringify(org.audience),
    client_ids: JSON.stringify(firstIssuer.clientIds),
    allowed_algorithms: JSON.stringify(firstIssuer.allowedAlgorithms),
    email_linking: firstIssuer.emailLinking,
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
    audience: JSON.parse(row.audience),
    provisioning: row.provisioning as OrganizationRecord['provisioning'],
    suspendedAt: row.suspended_at === null ? null : Number(row.suspended_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Thrown inside a registration's transaction to roll it back and report why. */
class RegistrationConflict extends Error {
  constructor(readonly conflict: IssuerRegistrationConflict) {
    super(conflict);
  }
}

function conflictOnUniqueViolation(conflict: IssuerRegistrationConflict) {
  return (error: unknown): never => {
    throw isUniqueViolation(error) ? new RegistrationConflict(conflict) : error;
  };
}

/**
 * Deletes a registration with its client-id claims and gives its share of the issuer back, inside
 * the caller's transaction.
 * @returns `false` when a concurrent removal got there first
 */
async function removeRegistration(
  trx: Transaction<Database>,
  row: Selectable<Database['issuer_registrations']>,
): Promise<boolean> {
  const removed = await trx
    .deleteFrom('issuer_registrations')
    .where('registration_id', '=', row.registration_id)
    .executeTakeFirst();
  if (Number(removed.numDeletedRows) === 0) return false;
  await trx.deleteFrom('issuer_client_claims').where('registration_id', '=', row.registration_id).execute();
  const isExclusive = (JSON.parse(row.client_ids) as string[]).length === 0;
  await trx
    .updateTable('issuer_usage')
    .$if(isExclusive, (update) =>
      update
        .set({ exclusive_registration_id: null })
        .where('exclusive_registration_id', '=', row.registration_id),
    )
    .$if(!isExclusive, (update) => update.set({ shared_count: sql`shared_count - 1` }))
    .where('issuer_key', '=', row.issuer_key)
    .execute();
  return true;
}

function fromIssuerRegistration(record: IssuerRegistrationRecord) {
  return {
    registration_id: record.registrationId,
    org_id: record.orgId,
    issuer: record.issuer,
    issuer_key: sha256(record.issuer),
    org_issuer_key: orgIssuerKey(record.orgId, record.issuer),
    client_ids: JSON.stringify(record.clientIds),
    allowed_algorithms: JSON.stringify(record.allowedAlgorithms),
    email_linking: record.emailLinking,
    subject_claim: record.subjectClaim,
    trust_username_claims: record.trustUsernameClaims ? 1 : 0,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

function toIssuerRegistration(row: Selectable<Database['issuer_registrations']>): IssuerRegistrationRecord {
  return {
    registrationId: row.registration_id,
    orgId: row.org_id,
    issuer: row.issuer,
    clientIds: JSON.parse(row.client_ids),
    allowedAlgorithms: JSON.parse(row.allowed_algorithms),
    emailLinking: row.email_linking as IssuerRegistrationRecord['emailLinking'],
    subjectClaim: row.subject_claim,
    trustUsernameClaims: Boolean(row.trust_username_claims),
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

function fromRefreshToken(record: RefreshTokenRecord) {
  return {
    jti: record.jti,
    family_id: record.familyId,
    org_id: record.orgId,
    user_id: record.userId,
    issued_at: record.issuedAt,
    expires_at: record.expiresAt,
    kid: record.kid,
  };
}

/** For rows with `issued_at` and `kid`: successors are always saved after migration 3. */
function toRefreshToken(
  row: Pick<Selectable<Database['refresh_tokens']>, keyof ReturnType<typeof fromRefreshToken>>,
): RefreshTokenRecord {
  return {
    jti: row.jti,
    familyId: row.family_id,
    orgId: row.org_id,
    userId: row.user_id,
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
    kid: row.kid ?? '',
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
