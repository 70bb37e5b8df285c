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
