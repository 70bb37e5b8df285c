import {
  type CreateTableBuilder,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Kysely,
  Migrator,
  MysqlAdapter,
  PostgresAdapter,
  type QueryExecutorProvider,
  type RawBuilder,
  sql,
  type TableMetadata,
} from 'kysely';
import { isSameIssuer } from '../internal/issuer-spelling.js';
import { clientClaimKey, identityKey, orgIssuerKey } from './lookup-keys.js';
import type { Database } from './schema.js';
import { TablePrefixPlugin } from './table-prefix-plugin.js';

export type SqlDialect = 'postgres' | 'mysql' | 'sqlite';

interface Migration {
  /** The number the runner before Kysely's `Migrator` recorded, kept so that its databases are adopted. */
  version: number;
  name: string;
  up(db: Kysely<Database>, context: MigrationContext): Promise<void>;
}

interface MigrationContext {
  dialect: SqlDialect;
  /** Index names are not table names, so the prefix plugin leaves them alone. */
  indexName(name: string): string;
  /** CREATE TABLE IF NOT EXISTS, in MySQL's binary collation. */
  table(name: keyof Database): CreateTableBuilder<string, never>;
}

// Column types the tables share: ids, SHA-256 lookup keys in hex, token ids (jti, family, kid).
const id = 'varchar(64)';
const sha256Hex = 'char(64)';
const token = 'varchar(128)';

/**
 * Applied in order, each at most once per table prefix. A released version is never edited: a
 * schema change is a new entry. Statements are idempotent (IF NOT EXISTS, duplicate index ignored)
 * because MySQL commits DDL one statement at a time, so a crash can leave a migration half applied.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial_schema',
    async up(db, { dialect, indexName, table }) {
      await table('organizations')
        .addColumn('org_id', id, (column) => column.primaryKey())
        .addColumn('issuer', 'text', (column) => column.notNull())
        .addColumn('issuer_key', sha256Hex, (column) => column.notNull().unique())
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('audience', 'text', (column) => column.notNull())
        .addColumn('client_ids', 'text', (column) => column.notNull())
        .addColumn('allowed_algorithms', 'text', (column) => column.notNull())
        .addColumn('email_linking', 'varchar(32)', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .execute();

      await table('api_keys')
        .addColumn('key_id', id, (column) => column.primaryKey())
        .addColumn('org_id', id, (column) => column.notNull())
        .addColumn('hash', 'varchar(128)', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await createIndex(db, dialect, indexName('api_keys_org_idx'), 'api_keys', ['org_id', 'created_at']);

      await table('users')
        .addColumn('user_id', id, (column) => column.primaryKey())
        .addColumn('org_id', id, (column) => column.notNull())
        .addColumn('email', 'text', (column) => column.notNull())
        .addColumn('email_key', sha256Hex, (column) => column.notNull().unique())
        .addColumn('onboarding_completed', 'boolean', (column) => column.notNull())
        .addColumn('kyc_completed', 'boolean', (column) => column.notNull())
        .addColumn('accredited', 'boolean', (column) => column.notNull())
        .addColumn('accreditation_verified', 'boolean', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .execute();

      await table('identities')
        .addColumn('identity_key', sha256Hex, (column) => column.primaryKey())
        .addColumn('org_id', id, (column) => column.notNull())
        .addColumn('iss', 'text', (column) => column.notNull())
        .addColumn('sub', 'text', (column) => column.notNull())
        .addColumn('user_id', id, (column) => column.notNull())
        .addColumn('linked_at', 'bigint', (column) => column.notNull())
        .execute();

      await table('refresh_tokens')
        .addColumn('jti', token, (column) => column.primaryKey())
        .addColumn('family_id', token, (column) => column.notNull())
        .addColumn('org_id', id, (column) => column.notNull())
        .addColumn('user_id', id, (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .execute();
      await createIndex(db, dialect, indexName('refresh_tokens_family_idx'), 'refresh_tokens', ['family_id']);
      await createIndex(db, dialect, indexName('refresh_tokens_expiry_idx'), 'refresh_tokens', [
        'expires_at',
      ]);

      await table('revoked_token_families')
        .addColumn('family_id', token, (column) => column.primaryKey())
        .addColumn('revoked_at', 'bigint', (column) => column.notNull())
        .execute();

      await table('signing_keys')
        .addColumn('key_use', 'varchar(32)', (column) => column.notNull())
        .addColumn('kid', token, (column) => column.notNull())
        .addColumn('alg', 'varchar(16)', (column) => column.notNull())
        .addColumn('private_jwk', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('ensure_slot', 'varchar(32)', (column) => column.unique())
        .addPrimaryKeyConstraint(indexName('signing_keys_pk'), ['key_use', 'kid'])
        .execute();
    },
  },
  {
    version: 2,
    name: 'verification_statuses_and_webhooks',
    // Verification statuses on users (the flags become derived from them) and the webhook outbox.
    async up(db, { dialect, indexName, table }) {
      await addColumn(db, dialect, 'users', 'kyc_status', "'not_started'");
      await addColumn(db, dialect, 'users', 'accreditation_status', "'not_submitted'");
      await db.updateTable('users').set({ kyc_status: 'approved' }).where('kyc_completed', '=', 1).execute();
      await db
        .updateTable('users')
        .set({ accreditation_status: 'submitted' })
        .where('accredited', '=', 1)
        .execute();
      await db
        .updateTable('users')
        .set({ accreditation_status: 'verified' })
        .where('accreditation_verified', '=', 1)
        .execute();

      await table('webhook_subscriptions')
        .addColumn('subscription_id', id, (column) => column.primaryKey())
        .addColumn('org_id', id, (column) => column.notNull())
        .addColumn('url', 'text', (column) => column.notNull())
        .addColumn('description', 'text')
        .addColumn('event_types', 'text', (column) => column.notNull())
        .addColumn('secret', 'text', (column) => column.notNull())
        .addColumn('previous_secret', 'text')
        .addColumn('previous_secret_expires_at', 'bigint')
        .addColumn('disabled_at', 'bigint')
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .execute();
      await createIndex(db, dialect, indexName('webhook_subscriptions_org_idx'), 'webhook_subscriptions', [
        'org_id',
        'created_at',
      ]);

      await table('webhook_deliveries')
        .addColumn('delivery_id', id, (column) => column.primaryKey())
        .addColumn('subscription_id', id, (column) => column.notNull())
        .addColumn('org_id', id, (column) => column.notNull())
        .addColumn('event_id', id, (column) => column.notNull())
        .addColumn('event_type', 'varchar(100)', (column) => column.notNull())
        .addColumn('payload', 'text', (column) => column.notNull())
        .addColumn('status', 'varchar(16)', (column) => column.notNull())
        .addColumn('next_attempt_at', 'bigint')
        .addColumn('lease_token', id)
        .addColumn('lease_expires_at', 'bigint')
        .addColumn('attempts', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .execute();
      // The worker's claim query: pending rows by due time.
      await createIndex(db, dialect, indexName('webhook_deliveries_due_idx'), 'webhook_deliveries', [
        'status',
        'next_attempt_at',
      ]);
      await createIndex(db, dialect, indexName('webhook_deliveries_lease_idx'), 'webhook_deliveries', [
        'lease_token',
      ]);
      await createIndex(db, dialect, indexName('webhook_deliveries_subscription_idx'), 'webhook_deliveries', [
        'subscription_id',
        'created_at',
      ]);
    },
  },
  {
    version: 3,
    name: 'consumed_keys',
    // Single-use ID tokens (consumeOnce): the primary key is the atomic claim.
    async up(db, { dialect, indexName, table }) {
      await table('consumed_keys')
        .addColumn('consumed_key', 'varchar(128)', (column) => column.primaryKey())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .execute();
      await createIndex(db, dialect, indexName('consumed_keys_expiry_idx'), 'consumed_keys', ['expires_at']);
    },
  },
  {
    version: 4,
    name: 'refresh_token_rotation',
    // Refresh-token rotation with a retry grace window. A used token is no longer deleted: its
    // successor's row names it in `parent_jti`, and the UNIQUE index makes "use once" and "store the
    // successor" one INSERT. `issued_at` and `kid` let a retry be answered with the same token.
    // Tokens consumed before this version were deleted, so reusing one still revokes its family.
    async up(db, { dialect, indexName }) {
      await addNullableColumn(db, dialect, 'refresh_tokens', 'issued_at', 'bigint');
      await addNullableColumn(db, dialect, 'refresh_tokens', 'kid', 'varchar(128)');
      await addNullableColumn(db, dialect, 'refresh_tokens', 'parent_jti', 'varchar(128)');
      await createIndex(
        db,
        dialect,
        indexName('refresh_tokens_parent_idx'),
        'refresh_tokens',
        ['parent_jti'],
        {
          isUnique: true,
        },
      );
    },
  },
  {
    version: 5,
    name: 'issuer_registrations',
    // Issuer registrations as their own records: an org may trust several issuers and orgs may
    // share one. Each existing org's issuer settings become its first registration, whose id is
    // the org id, so a rerun after a crash (MySQL commits each DDL statement) finds what it copied.
    async up(db, { dialect, indexName, table }) {
      await table('issuer_registrations')
        .addColumn('registration_id', id, (column) => column.primaryKey())
        .addColumn('org_id', id, (column) => column.notNull())
        .addColumn('issuer', 'text', (column) => column.notNull())
        .addColumn('issuer_key', sha256Hex, (column) => column.notNull())
        .addColumn('org_issuer_key', sha256Hex, (column) => column.notNull().unique())
        .addColumn('client_ids', 'text', (column) => column.notNull())
        .addColumn('allowed_algorithms', 'text', (column) => column.notNull())
        .addColumn('email_linking', 'varchar(32)', (column) => column.notNull())
        .addColumn('subject_claim', 'varchar(64)', (column) => column.notNull())
        .addColumn('trust_username_claims', 'boolean', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .execute();
      await createIndex(db, dialect, indexName('issuer_registrations_issuer_idx'), 'issuer_registrations', [
        'issuer_key',
      ]);
      await createIndex(db, dialect, indexName('issuer_registrations_org_idx'), 'issuer_registrations', [
        'org_id',
      ]);
      await table('issuer_usage')
        .addColumn('issuer_key', sha256Hex, (column) => column.primaryKey())
        .addColumn('exclusive_registration_id', id)
        .addColumn('shared_count', 'integer', (column) => column.notNull())
        .execute();
      await table('issuer_client_claims')
        .addColumn('claim_key', sha256Hex, (column) => column.primaryKey())
        .addColumn('registration_id', id, (column) => column.notNull())
        .execute();
      await createIndex(
        db,
        dialect,
        indexName('issuer_client_claims_registration_idx'),
        'issuer_client_claims',
        ['registration_id'],
      );

      const copied = new Set(
        (await db.selectFrom('issuer_registrations').select('registration_id').execute()).map(
          (row) => row.registration_id,
        ),
      );
      const orgs = await db.selectFrom('organizations').selectAll().execute();
      for (const org of orgs.filter((candidate) => !copied.has(candidate.org_id))) {
        const clientIds: string[] = JSON.parse(org.client_ids);
        // Leftovers of an interrupted run: until its registration row exists, nothing else uses them.
        await db.deleteFrom('issuer_client_claims').where('registration_id', '=', org.org_id).execute();
        await db.deleteFrom('issuer_usage').where('issuer_key', '=', org.issuer_key).execute();
        await db
          .insertInto('issuer_usage')
          .values({
            issuer_key: org.issuer_key,
            exclusive_registration_id: clientIds.length === 0 ? org.org_id : null,
            shared_count: clientIds.length === 0 ? 0 : 1,
          })
          .execute();
        if (clientIds.length > 0) {
          await db
            .insertInto('issuer_client_claims')
            .values(
              [...new Set(clientIds)].map((clientId) => ({
                claim_key: clientClaimKey(org.issuer, clientId),
                registration_id: org.org_id,
              })),
            )
            .execute();
        }
        await db
          .insertInto('issuer_registrations')
          .values({
            registration_id: org.org_id,
            org_id: org.org_id,
            issuer: org.issuer,
            issuer_key: org.issuer_key,
            org_issuer_key: orgIssuerKey(org.org_id, org.issuer),
            client_ids: org.client_ids,
            allowed_algorithms: org.allowed_algorithms,
            email_linking: org.email_linking,
            subject_claim: 'sub',
            trust_username_claims: 0,
            created_at: Number(org.created_at),
            updated_at: Number(org.updated_at),
          })
          .execute();
      }
    },
  },
  {
    version: 6,
    name: 'roles_and_provisioning',
    // Roles within an organization (every existing user is a plain member), suspension and
    // provisioning modes of organizations (every existing one active, creating users).
    async up(db, { dialect }) {
      await addColumn(db, dialect, 'users', 'role', "'member'");
      await addColumn(db, dialect, 'organizations', 'provisioning', "'create'");
      await addNullableColumn(db, dialect, 'organizations', 'suspended_at', 'bigint');
    },
  },
  {
    version: 7,
    name: 'shared_rate_limits',
    // Per-organization rate limits shared by every instance: one row per limited key, updated in
    // place, so the table holds one row per organization that ever exchanged.
    async up(_db, { table }) {
      await table('rate_limits')
        .addColumn('rate_key', 'varchar(191)', (column) => column.primaryKey())
        .addColumn('arrival_ms', 'bigint', (column) => column.notNull())
        .addColumn('last_allowed', 'smallint', (column) => column.notNull())
        .execute();
    },
  },
  {
    version: 8,
    name: 'dpop_bound_access_tokens',
    // RFC 9449 §5.2 per organization; every existing one keeps bearer tokens.
    async up(db, { dialect }) {
      await tolerateExistingColumn(
        dialect,
        db.schema
          .alterTable('organizations')
          .addColumn('dpop_bound_access_tokens', 'smallint', (column) => column.notNull().defaultTo(0))
          .execute(),
      );
    },
  },
  {
    version: 10,
    name: 'issuer_policies',
    // Exchange policies of issuer registrations: the CEL sources as registered (the mappings as a
    // JSON object) and their version. Existing registrations have none: version 0.
    async up(db, { dialect }) {
      const alter = () => db.schema.alterTable('issuer_registrations');
      const version = 'policy_version';
      if (dialect === 'sqlite') {
        // SQLite adds one column per statement (and migrates in one transaction anyway).
        await alter().addColumn('policy_condition', 'text').execute();
        await alter().addColumn('policy_claim_mappings', 'text').execute();
        await alter()
          .addColumn(version, 'integer', (builder) => builder.notNull().defaultTo(0))
          .execute();
        return;
      }
      // One statement: MySQL rebuilds the table for each ALTER, and a rerun finds all three or none.
      await tolerateExistingColumn(
        dialect,
        alter()
          .addColumn('policy_condition', 'text')
          .addColumn('policy_claim_mappings', 'text')
          .addColumn(version, 'integer', (builder) => builder.notNull().defaultTo(0))
          .execute(),
      );
    },
  },
  {
    version: 11,
    name: 'identities_keyed_by_claim_name',
    // Identities are keyed by (org, iss, claim name, value) since this version; `sub` identities
    // keep their key. Those an issuer registration made under another claim (Entra's `oid`) are
    // re-keyed under that claim, so a later `sub` equal to an old `oid` cannot reach that user.
    // Only rows still holding the old key move: running it twice changes nothing.
    async up(db) {
      const registrations = await db
        .selectFrom('issuer_registrations')
        .select(['org_id', 'issuer', 'subject_claim'])
        .where('subject_claim', '<>', 'sub')
        .execute();
      for (const registration of registrations) {
        const identities = await db
          .selectFrom('identities')
          .select(['identity_key', 'iss', 'sub'])
          .where('org_id', '=', registration.org_id)
          .execute();
        for (const identity of identities) {
          if (!isSameIssuer(identity.iss, registration.issuer)) continue;
          if (identity.identity_key !== identityKey(registration.org_id, identity.iss, identity.sub))
            continue;
          await db
            .updateTable('identities')
            .set({
              identity_key: identityKey(
                registration.org_id,
                identity.iss,
                identity.sub,
                registration.subject_claim,
              ),
            })
            .where('identity_key', '=', identity.identity_key)
            .execute();
        }
      }
    },
  },
  {
    version: 12,
    name: 'console_listings_and_sessions',
    // Paged listings walk these indexes newest first; console sessions are read by their hash and
    // swept by their expiry.
    async up(db, { dialect, indexName, table }) {
      await createIndex(db, dialect, indexName('organizations_created_idx'), 'organizations', [
        'created_at',
        'org_id',
      ]);
      await createIndex(db, dialect, indexName('users_org_created_idx'), 'users', [
        'org_id',
        'created_at',
        'user_id',
      ]);
      await table('console_sessions')
        .addColumn('session_hash', token, (column) => column.primaryKey())
        .addColumn('credential_fingerprint', 'varchar(255)', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .execute();
      await createIndex(db, dialect, indexName('console_sessions_expiry_idx'), 'console_sessions', [
        'expires_at',
      ]);
    },
  },
  {
    version: 13,
    name: 'link_scopes',
    // The link scope of a registration (NULL on registrations stored before: `org`, as they linked)
    // and the registration a user was first seen through ('' while no identity has claimed a user
    // created beforehand, NULL on users stored before: unknown).
    async up(db, { dialect }) {
      await addNullableColumn(db, dialect, 'issuer_registrations', 'policy_link_scope', 'varchar(128)');
      await addNullableColumn(db, dialect, 'users', 'first_seen_through', 'varchar(128)');
    },
  },
  {
    version: 14,
    name: 'user_identities_and_sessions',
    // The console's user screen lists one user's identity links and refresh-token families.
    async up(db, { dialect, indexName }) {
      await createIndex(db, dialect, indexName('identities_user_idx'), 'identities', ['user_id']);
      await createIndex(db, dialect, indexName('refresh_tokens_user_idx'), 'refresh_tokens', [
        'org_id',
        'user_id',
      ]);
    },
  },
  {
    version: 15,
    name: 'ended_registrations',
    // The issuer registrations an organization removed with their sessions ended (a JSON array kept
    // small by pruning); NULL on organizations that never ended any.
    async up(db, { dialect }) {
      await addNullableColumn(db, dialect, 'organizations', 'ended_registrations', 'text');
    },
  },
];

const MYSQL_DUPLICATE_KEY_NAME = 1061;
const MYSQL_DUPLICATE_COLUMN_NAME = 1060;

// MySQL has no ADD COLUMN IF NOT EXISTS, and commits DDL one statement at a time: a migration cut
// short and run again finds the column there. PostgreSQL and SQLite migrate in one transaction.
/** Adds a NOT NULL text column with a default, which existing rows take. */
function addColumn(
  db: Kysely<Database>,
  dialect: SqlDialect,
  table: keyof Database,
  column: string,
  defaultLiteral: string,
): Promise<void> {
  return tolerateExistingColumn(
    dialect,
    db.schema
      .alterTable(table)
      .addColumn(column, 'varchar(32)', (builder) => builder.notNull().defaultTo(sql.raw(defaultLiteral)))
      .execute(),
  );
}

function addNullableColumn(
  db: Kysely<Database>,
  dialect: SqlDialect,
  table: keyof Database,
  column: string,
  type: 'bigint' | 'varchar(128)' | 'text',
): Promise<void> {
  return tolerateExistingColumn(dialect, db.schema.alterTable(table).addColumn(column, type).execute());
}

// MySQL commits each DDL statement, so a migration cut short after one of them runs again whole:
// the column it already added is tolerated there.
async function tolerateExistingColumn(dialect: SqlDialect, adding: Promise<unknown>): Promise<void> {
  try {
    await adding;
  } catch (error) {
    if (dialect !== 'mysql' || (error as { errno?: unknown }).errno !== MYSQL_DUPLICATE_COLUMN_NAME)
      throw error;
  }
}

// MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB does), so an existing index is tolerated instead.
async function createIndex(
  db: Kysely<Database>,
  dialect: SqlDialect,
  name: string,
  table: keyof Database,
  columns: string[],
  { isUnique = false } = {},
): Promise<void> {
  const created = db.schema.createIndex(name).on(table).columns(columns);
  const builder = isUnique ? created.unique() : created;
  if (dialect !== 'mysql') return builder.ifNotExists().execute();
  try {
    await builder.execute();
  } catch (error) {
    if ((error as { errno?: unknown }).errno !== MYSQL_DUPLICATE_KEY_NAME) throw error;
  }
}

/** The name Kysely's Migrator records: zero-padded so that its alphabetical order is the version order. */
function migrationName(migration: Migration): string {
  return `${String(migration.version).padStart(4, '0')}_${migration.name}`;
}

/**
 * Brings the schema under `tablePrefix` to the latest version with Kysely's `Migrator`, which
 * records applied migrations in `<prefix>kysely_migration` and holds its own lock while it runs
 * them (per table prefix, see `withMigrationLockPerPrefix`; PostgreSQL: an advisory lock, with
 * everything in one transaction; MySQL: a named lock; SQLite: its write lock, the transaction
 * beginning IMMEDIATE). Whoever gets the lock second finds
 * the work done. A database set up by the runner this replaced is adopted first, see
 * `adoptLegacyBookkeeping`.
 */
export async function runMigrations(
  db: Kysely<Database>,
  dialect: SqlDialect,
  tablePrefix: string,
): Promise<void> {
  // Migrator looks its tables up in the catalog (information_schema, pg_catalog, sqlite_master),
  // whose names the prefix plugin must not touch: it gets the bare connection and prefixed names.
  const unprefixed = db.withoutPlugins();
  const prefixing = new TablePrefixPlugin(tablePrefix);
  await adoptLegacyBookkeeping(unprefixed, prefixing, dialect, tablePrefix);
  const migrator = new Migrator({
    db: unprefixed,
    migrationTableName: `${tablePrefix}kysely_migration`,
    migrationLockTableName: `${tablePrefix}kysely_migration_lock`,
    // As the runner before it did: any migration not recorded runs, in order, even after later ones.
    allowUnorderedMigrations: true,
    provider: {
      getMigrations: async () =>
        Object.fromEntries(
          MIGRATIONS.map((migration) => [
            migrationName(migration),
            {
              up: (trx: Kysely<Database>) => {
                const prefixed = trx.withPlugin(prefixing);
                return migration.up(prefixed, migrationContext(prefixed, dialect, tablePrefix));
              },
            },
          ]),
        ),
    },
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
}

function migrationContext(db: Kysely<Database>, dialect: SqlDialect, tablePrefix: string): MigrationContext {
  return {
    dialect,
    indexName: (name) => `${tablePrefix}${name}`,
    table: (name) => {
      const builder = db.schema.createTable(name).ifNotExists();
      // MySQL compares text case- and accent-insensitively by default; ids, hashes and JWKs must
      // match byte for byte.
      return dialect === 'mysql'
        ? builder.modifyEnd(sql`default character set utf8mb4 collate utf8mb4_bin`)
        : builder;
    },
  };
}

/**
 * A database created by the runner before `Migrator` has `<prefix>migrations` (one row per applied
 * version) and no `<prefix>kysely_migration`. Its versions are written there as Migrator's names,
 * so no migration runs twice, under the old runner's lock (an instance of the previous release
 * still migrating is waited for) and in one transaction where DDL is transactional; on MySQL the
 * rows go in with one INSERT, and an empty table after a crash is filled on the next start. The old
 * table stays, so that an instance of the previous release started later still finds its versions.
 */
async function adoptLegacyBookkeeping(
  unprefixed: Kysely<Database>,
  prefixing: TablePrefixPlugin,
  dialect: SqlDialect,
  tablePrefix: string,
): Promise<void> {
  await underLegacyLock(unprefixed, dialect, tablePrefix, async (locked) => {
    const tables = await locked.introspection.getTables();
    if (!tables.some((table) => table.name === `${tablePrefix}migrations`)) return;
    const db = locked.withPlugin(prefixing);
    // Migrator's own definition of the table, which it then finds in place.
    await db.schema
      .createTable('kysely_migration')
      .ifNotExists()
      .addColumn('name', 'varchar(255)', (column) => column.notNull().primaryKey())
      .addColumn('timestamp', 'varchar(255)', (column) => column.notNull())
      .execute();
    if ((await db.selectFrom('kysely_migration').select('name').limit(1).execute()).length > 0) return;
    const applied = await db.selectFrom('migrations').select(['version', 'applied_at']).execute();
    const adopted = applied.flatMap(({ version, applied_at }) => {
      const migration = MIGRATIONS.find((candidate) => candidate.version === Number(version));
      return migration === undefined
        ? []
        : [{ name: migrationName(migration), timestamp: new Date(Number(applied_at) * 1000).toISOString() }];
    });
    if (adopted.length > 0) await db.insertInto('kysely_migration').values(adopted).execute();
  });
}

// How long a starting instance waits for another one's migration before giving up.
const MIGRATION_LOCK_TIMEOUT_SECONDS = 60;

/**
 * The lock of the migrations under one table prefix. The runner before `Migrator` took the same
 * name, so an instance of an earlier release still migrating is waited for.
 */
function migrationLockName(tablePrefix: string): string {
  return `rialto-exchange:migrate:${tablePrefix}`;
}

async function acquireMysqlLock(db: QueryExecutorProvider, lockName: string): Promise<void> {
  const [acquired] = (
    await sql<{
      acquired: number | null;
    }>`select get_lock(${lockName}, ${MIGRATION_LOCK_TIMEOUT_SECONDS}) as acquired`.execute(db)
  ).rows;
  if (acquired?.acquired !== 1)
    throw new Error(`sqlStore: timed out waiting for the migration lock ${lockName}`);
}

/**
 * `dialect`, with `Migrator`'s lock taken per table prefix and its tables listed by one catalog
 * query. Kysely's own adapters lock one fixed id per server (MySQL) or per database (PostgreSQL):
 * deployments under other prefixes would wait for each other's migrations, past the statement
 * timeout, and MySQL's would wait an hour without checking that it got the lock. SQLite's write
 * lock is per file already, and its catalog is the file's own.
 */
export function withMigrationLockPerPrefix(
  dialect: Dialect,
  sqlDialect: SqlDialect,
  tablePrefix: string,
): Dialect {
  const lockName = migrationLockName(tablePrefix);
  let adapter: DialectAdapter;
  if (sqlDialect === 'postgres') {
    adapter = new (class extends PostgresAdapter {
      override async acquireMigrationLock(db: Kysely<unknown>): Promise<void> {
        await sql`select pg_advisory_lock(hashtext(${lockName}))`.execute(db);
      }
      override async releaseMigrationLock(db: Kysely<unknown>): Promise<void> {
        await sql`select pg_advisory_unlock(hashtext(${lockName}))`.execute(db);
      }
    })();
  } else if (sqlDialect === 'mysql') {
    adapter = new (class extends MysqlAdapter {
      override async acquireMigrationLock(db: Kysely<unknown>): Promise<void> {
        await acquireMysqlLock(db, lockName);
      }
      override async releaseMigrationLock(db: Kysely<unknown>): Promise<void> {
        await sql`select release_lock(${lockName})`.execute(db);
      }
    })();
  } else {
    return dialect;
  }
  const currentSchema = sqlDialect === 'postgres' ? sql`current_schema()` : sql`database()`;
  return {
    createAdapter: () => adapter,
    createDriver: () => dialect.createDriver(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => tableListing(db, dialect.createIntrospector(db), currentSchema),
  };
}

/**
 * The introspector `Migrator` asks which tables exist, answering from one catalog query. Kysely's
 * own reads every column of every table in the database, and on PostgreSQL fails ("relation …
 * does not exist") when another client drops a table between its two queries.
 */
function tableListing(
  db: Kysely<unknown>,
  introspector: DatabaseIntrospector,
  currentSchema: RawBuilder<unknown>,
): DatabaseIntrospector {
  return {
    getSchemas: () => introspector.getSchemas(),
    getMetadata: (options) => introspector.getMetadata(options),
    async getTables(): Promise<TableMetadata[]> {
      const { rows } = await sql<{ table_schema_name: string; table_name_only: string; table_kind: string }>`
        select table_schema as table_schema_name, table_name as table_name_only, table_type as table_kind
        from information_schema.tables where table_schema = ${currentSchema}`.execute(db);
      return rows.map((row) => ({
        schema: row.table_schema_name,
        name: row.table_name_only,
        isView: row.table_kind === 'VIEW',
        columns: [],
      }));
    },
  };
}

/** Runs `work` holding the migration lock of `tablePrefix`, in a transaction but on MySQL. */
async function underLegacyLock(
  db: Kysely<Database>,
  dialect: SqlDialect,
  tablePrefix: string,
  work: (locked: Kysely<Database>) => Promise<void>,
): Promise<void> {
  const lockName = migrationLockName(tablePrefix);
  if (dialect !== 'mysql') {
    await db.transaction().execute(async (trx) => {
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${lockName}))`.execute(trx);
      await work(trx);
    });
    return;
  }
  await db.connection().execute(async (connection) => {
    await acquireMysqlLock(connection, lockName);
    try {
      await work(connection);
    } finally {
      await sql`select release_lock(${lockName})`.execute(connection);
    }
  });
}
