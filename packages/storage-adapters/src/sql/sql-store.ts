import type { Store } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import {
  implementation,
  parseOptions,
  positiveNumber,
  strictOptions,
} from '@rialto-exchange/core/option-schema';
import { Kysely } from 'kysely';
import { z } from 'zod';
import { sqlConsoleSessions } from './console-sessions.js';
import type { SqlContext } from './context.js';
import { sqlSigningKeys } from './keys.js';
import { runMigrations, withMigrationLockPerPrefix } from './migrations.js';
import { sqlOrganizations } from './organizations.js';
import { sqlRateLimits } from './rate-limit.js';
import type { Database } from './schema.js';
import { resolveDialect, type SqlConnection } from './sql-dialect.js';
import { isUnavailable } from './sql-errors.js';
import { SqliteTurns } from './sqlite-dialect.js';
import { TablePrefixPlugin } from './table-prefix-plugin.js';
import { sqlTokens } from './tokens.js';
import { sqlUsers } from './users.js';
import { sqlWebhooks } from './webhooks.js';

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
   * No refresh-token rotation lands after its call's deadline, on any dialect, and on SQLite no
   * statement of a call starts after it; another write of a call that timed out on PostgreSQL or
   * MySQL may still commit (at most one statement timeout late): its outcome is unknown, and each
   * such write is safe to retry. With a pool passed in, only the whole-call deadline and the
   * rotation's own check apply; configure the pool's own timeouts likewise.
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
 * A SQL-backed store, as returned by `sqlStore()`: a `Store`, whose `migrate()` creates or upgrades
 * its tables (instances take a database lock in turn) and whose `close()` closes the pool or file
 * it opened (a pool or database passed in stays open).
 *
 * @example
 * const store: SqlStore = sqlStore({ dialect: 'postgres', connectionString, autoMigrate: false });
 * await store.migrate();
 */
export type SqlStore = Store;

// The driver's statement timeout fires first and destroys the stalled connection, so the statement
// cannot commit once the network returns; the call deadline only catches waits the drivers cannot see.
const CALL_DEADLINE_SLACK_MS = 100;
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
 * pool exhausted, server shutting down, SQLite locked by another process) and calls that miss
 * `commandTimeoutMs` reject with `StoreUnavailableError`; the pool reconnects on the next call.
 * On SQLite the calls of one store take turns on its connection: while another process holds the
 * write lock, a call waits for it (on timers, letting other calls run) until its deadline, and a
 * call answered `StoreUnavailableError` never writes afterwards.
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
  const sqliteTurns = new SqliteTurns();
  const { dialect, isOwned } = resolveDialect(options, { connectTimeoutMs, commandTimeoutMs, sqliteTurns });
  const db = new Kysely<Database>({
    dialect: withMigrationLockPerPrefix(dialect, options.dialect, tablePrefix),
    plugins: [new TablePrefixPlugin(tablePrefix)],
  });
  const isSqlite = options.dialect === 'sqlite';

  const runner = storeKit.createStoreRunner({
    backend: 'The SQL database',
    // The drivers bound each statement; this bounds the call, waits for a pooled connection included.
    timeoutMs: commandTimeoutMs + CALL_DEADLINE_SLACK_MS,
    isUnavailable,
    migrate: () => {
      const migrating = () => runMigrations(db, options.dialect, tablePrefix);
      return isSqlite ? sqliteTurns.alone(migrating) : migrating();
    },
    migrateBeforeFirstCall: autoMigrate,
    release: isOwned ? () => db.destroy() : undefined,
  });
  const context: SqlContext = {
    db,
    dialect: options.dialect,
    run: isSqlite
      ? (operation) => runner.run((deadlineAt) => sqliteTurns.run(deadlineAt, operation))
      : runner.run,
  };

  return {
    ...sqlOrganizations(context),
    ...sqlUsers(context),
    ...sqlTokens(context),
    ...sqlSigningKeys(context),
    ...sqlWebhooks(context),
    ...sqlRateLimits(context),
    ...sqlConsoleSessions(context),
    migrate: runner.migrate,
    close: runner.close,
  };
}
