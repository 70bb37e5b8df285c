import type { SqlStore } from '@rialto-exchange/storage-adapters';
import { expect, onTestFinished } from 'vitest';
import { apiKey, issuerRegistration, organization } from '../src/conformance/fixtures.js';
import { uniqueTablePrefix } from './sql-tables.js';

/**
 * Kysely Migrator's names of the migrations, in order: the runner before it numbered them 1 to 7;
 * later numbers are reserved per feature, so the list has gaps.
 */
export const MIGRATION_NAMES = [
  '0001_initial_schema',
  '0002_verification_statuses_and_webhooks',
  '0003_consumed_keys',
  '0004_refresh_token_rotation',
  '0005_issuer_registrations',
  '0006_roles_and_provisioning',
  '0007_shared_rate_limits',
  '0008_dpop_bound_access_tokens',
  '0010_issuer_policies',
  '0011_identities_keyed_by_claim_name',
  '0012_console_listings_and_sessions',
  '0013_link_scopes',
  '0014_user_identities_and_sessions',
  '0015_ended_registrations',
] as const;

/**
 * Statements that take a migrated database back to before migration 13 (link scopes), for tests
 * that write rows as an earlier version did. `withRegistrations: false` when the registrations
 * table is dropped anyway.
 */
export function undoLinkScopesMigration(tablePrefix: string, { withRegistrations = true } = {}): string[] {
  return [
    `alter table ${tablePrefix}users drop column first_seen_through`,
    ...(withRegistrations
      ? [`alter table ${tablePrefix}issuer_registrations drop column policy_link_scope`]
      : []),
    forgetMigration(tablePrefix, 13),
  ];
}

/** The statement that makes the store run migration `version` (1-based) again on its next start. */
export function forgetMigration(tablePrefix: string, version: number): string {
  const name = MIGRATION_NAMES.find((candidate) =>
    candidate.startsWith(`${String(version).padStart(4, '0')}_`),
  );
  return `delete from ${tablePrefix}kysely_migration where name = '${name}'`;
}

/** When the runner before Migrator applied versions 1 to 6 in `legacyRunnerAtVersion6`: 2023-11-14T22:13:20Z. */
export const LEGACY_APPLIED_AT_SECONDS = 1_700_000_000;

/**
 * Statements that turn a migrated database into what the runner before Kysely's Migrator left at
 * version 6: no Migrator tables, no `rate_limits` (migration 7), `dpop_bound_access_tokens` (8) nor `ended_registrations` (15), and its own bookkeeping table,
 * created and filled exactly as it did (`version integer primary key`, `applied_at` epoch seconds).
 */
export function legacyRunnerAtVersion6(tablePrefix: string): string[] {
  const versions = [1, 2, 3, 4, 5, 6].map((version) => `(${version}, ${LEGACY_APPLIED_AT_SECONDS})`);
  return [
    `drop table ${tablePrefix}kysely_migration`,
    `drop table ${tablePrefix}kysely_migration_lock`,
    `drop table ${tablePrefix}rate_limits`,
    `alter table ${tablePrefix}organizations drop column dpop_bound_access_tokens`,
    `alter table ${tablePrefix}organizations drop column ended_registrations`,
    ...['policy_condition', 'policy_claim_mappings', 'policy_version', 'policy_link_scope'].map(
      (column) => `alter table ${tablePrefix}issuer_registrations drop column ${column}`,
    ),
    `alter table ${tablePrefix}users drop column first_seen_through`,
    `create table ${tablePrefix}migrations (version integer primary key, applied_at bigint not null)`,
    `insert into ${tablePrefix}migrations (version, applied_at) values ${versions.join(', ')}`,
  ];
}

/**
 * Migrator's record after adopting `legacyRunnerAtVersion6`: versions 1 to 6 carry the old runner's
 * time (they did not run again), migrations 7 and 10 ran now.
 */
export function expectAdoptedAtVersion6(rows: readonly { name: string; timestamp: string }[]): void {
  const legacyTimestamp = new Date(LEGACY_APPLIED_AT_SECONDS * 1000).toISOString();
  const sorted = [...rows].sort((a, b) => a.name.localeCompare(b.name));
  expect(sorted.map((row) => row.name)).toEqual(MIGRATION_NAMES);
  expect(sorted.slice(0, 6).map((row) => row.timestamp)).toEqual(Array(6).fill(legacyTimestamp));
  expect(Date.parse(sorted[6]?.timestamp ?? '')).toBeGreaterThan(Date.now() - 60_000);
}

/** A server database as the adoption and lock tests see it; each dialect says how to reach it. */
export interface ServerDatabase {
  /** A store on the database under `tablePrefix`. */
  storeAt(tablePrefix: string): SqlStore;
  /** Runs one statement as another client of the database. */
  execute(statement: string): Promise<void>;
  /** The rows of `<tablePrefix>kysely_migration`. */
  migrationRows(tablePrefix: string): Promise<{ name: string; timestamp: string }[]>;
  /** Takes the named migration lock on a connection of its own; resolves to its release. */
  holdMigrationLock(lockName: string): Promise<() => Promise<void>>;
}

/** Two instances start at once on what the runner before Migrator left: nothing runs again, data stays, migration 7 applies. */
export async function expectLegacyDatabaseAdopted(database: ServerDatabase): Promise<void> {
  const tablePrefix = uniqueTablePrefix();
  const org = organization();
  await database
    .storeAt(tablePrefix)
    .createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
  for (const statement of legacyRunnerAtVersion6(tablePrefix)) await database.execute(statement);

  const [first, second] = [database.storeAt(tablePrefix), database.storeAt(tablePrefix)];
  await Promise.all([first.migrate(), second.migrate()]);

  expectAdoptedAtVersion6(await database.migrationRows(tablePrefix));
  expect(await second.getOrganization(org.orgId)).toEqual(org);
  const hit = { key: `org:${org.orgId}`, intervalMs: 1_000, toleranceMs: 1_000, nowMs: Date.now() };
  expect((await first.hitRateLimit?.(hit))?.allowed).toBe(true);
  expect((await second.hitRateLimit?.(hit))?.allowed).toBe(false);
}

/** A migration waits for the lock of its own table prefix, under the name the earlier runner took, and not for another prefix's. */
export async function expectMigrationWaitsForItsPrefixLock(database: ServerDatabase): Promise<void> {
  const tablePrefix = uniqueTablePrefix();
  const release = await database.holdMigrationLock(`rialto-exchange:migrate:${tablePrefix}`);
  let isReleased = false;
  onTestFinished(async () => {
    if (!isReleased) await release();
  });

  let isMigrated = false;
  const migrating = database
    .storeAt(tablePrefix)
    .migrate()
    .then(() => {
      isMigrated = true;
    });
  await database.storeAt(uniqueTablePrefix()).migrate();
  expect(isMigrated).toBe(false);

  isReleased = true;
  await release();
  await migrating;
  expect(isMigrated).toBe(true);
}
