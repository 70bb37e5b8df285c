import { randomBytes } from 'node:crypto';
import { TABLES } from '../src/sql/schema.js';

/** A table prefix no other test uses. */
export function uniqueTablePrefix(): string {
  return `t${randomBytes(5).toString('hex')}_`;
}

/** Every table a store with `tablePrefix` may have created, for DROP TABLE IF EXISTS. */
export function tablesOf(tablePrefix: string): string[] {
  return TABLES.map((table) => `${tablePrefix}${table}`);
}

/** The bookkeeping of migrations: what says a table set is already at the latest version. */
const MIGRATION_TABLES = new Set(['kysely_migration', 'kysely_migration_lock', 'migrations']);

/** The tables holding records, which a reused table set is emptied of. */
function recordTablesOf(tablePrefix: string): string[] {
  return TABLES.filter((table) => !MIGRATION_TABLES.has(table)).map((table) => `${tablePrefix}${table}`);
}

export interface TablePrefixPool {
  /** A prefix whose tables are migrated and empty, or a new one the store will migrate. */
  take(): string;
  /** Empties the prefix's tables for the next case; a set that cannot be emptied is dropped instead. */
  giveBack(tablePrefix: string): Promise<void>;
  /** Drops every table set the pool still holds. */
  dropAll(): Promise<void>;
}

/**
 * Table sets that one test file's cases hand on to each other. Creating and migrating a fresh set
 * for each conformance case was most of a SQL conformance run (MariaDB's DDL above all); an emptied
 * set at the latest version is what a fresh one looks like to the next case, and the store's own
 * start-up still checks the version each time. Cases about migration itself get a new prefix when the
 * pool is empty, and any set that cannot be emptied (never migrated, half migrated) is dropped.
 */
export function tablePrefixPool(run: (statements: string[]) => Promise<unknown>): TablePrefixPool {
  const idle: string[] = [];
  const drop = (tablePrefix: string) => run([`drop table if exists ${tablesOf(tablePrefix).join(', ')}`]);
  return {
    take: () => idle.pop() ?? uniqueTablePrefix(),
    async giveBack(tablePrefix) {
      try {
        await run(recordTablesOf(tablePrefix).map((table) => `delete from ${table}`));
        idle.push(tablePrefix);
      } catch {
        await drop(tablePrefix);
      }
    },
    async dropAll() {
      for (const tablePrefix of idle.splice(0)) await drop(tablePrefix);
    },
  };
}
