import { expect } from 'vitest';

/** Kysely Migrator's names of the migrations, in order: the runner before it numbered them 1 to 7. */
export const MIGRATION_NAMES = [
  '0001_initial_schema',
  '0002_verification_statuses_and_webhooks',
  '0003_consumed_keys',
  '0004_refresh_token_rotation',
  '0005_issuer_registrations',
  '0006_roles_and_provisioning',
  '0007_shared_rate_limits',
] as const;

/** The statement that makes the store run migration `version` (1-based) again on its next start. */
export function forgetMigration(tablePrefix: string, version: number): string {
  return `delete from ${tablePrefix}kysely_migration where name = '${MIGRATION_NAMES[version - 1]}'`;
}

/** When the runner before Migrator applied versions 1 to 6 in `legacyRunnerAtVersion6`: 2023-11-14T22:13:20Z. */
export const LEGACY_APPLIED_AT_SECONDS = 1_700_000_000;

/**
 * Statements that turn a migrated database into what the runner before Kysely's Migrator left at
 * version 6: no Migrator tables, no `rate_limits` (migration 7), and its own bookkeeping table,
 * created and filled exactly as it did (`version integer primary key`, `applied_at` epoch seconds).
 */
export function legacyRunnerAtVersion6(tablePrefix: string): string[] {
  const versions = [1, 2, 3, 4, 5, 6].map((version) => `(${version}, ${LEGACY_APPLIED_AT_SECONDS})`);
  return [
    `drop table ${tablePrefix}kysely_migration`,
    `drop table ${tablePrefix}kysely_migration_lock`,
    `drop table ${tablePrefix}rate_limits`,
    `create table ${tablePrefix}migrations (version integer primary key, applied_at bigint not null)`,
    `insert into ${tablePrefix}migrations (version, applied_at) values ${versions.join(', ')}`,
  ];
}

/**
 * Migrator's record after adopting `legacyRunnerAtVersion6`: versions 1 to 6 carry the old runner's
 * time (they did not run again), migration 7 ran now.
 */
export function expectAdoptedAtVersion6(rows: readonly { name: string; timestamp: string }[]): void {
  const legacyTimestamp = new Date(LEGACY_APPLIED_AT_SECONDS * 1000).toISOString();
  const sorted = [...rows].sort((a, b) => a.name.localeCompare(b.name));
  expect(sorted.map((row) => row.name)).toEqual(MIGRATION_NAMES);
  expect(sorted.slice(0, 6).map((row) => row.timestamp)).toEqual(Array(6).fill(legacyTimestamp));
  expect(Date.parse(sorted[6]?.timestamp ?? '')).toBeGreaterThan(Date.now() - 60_000);
}
