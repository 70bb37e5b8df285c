import type { Kysely } from 'kysely';
import type { SqlDialect } from './migrations.js';
import type { Database } from './schema.js';

/** What every capability of an SQL store works with. */
export interface SqlContext {
  db: Kysely<Database>;
  dialect: SqlDialect;
  /**
   * Runs one operation of the store under its deadline, mapping outages to
   * `StoreUnavailableError` (the store runner); on SQLite, in its turn on the one connection
   * (`SqliteTurns`). Never call it from inside an operation: on SQLite the inner one would wait for
   * the turn the outer one holds.
   */
  run<T>(operation: (deadlineAt: number) => Promise<T>): Promise<T>;
}

// A unique violation or deadlock means another writer committed first; the next attempt reads its
// row. More attempts than this means something other than a race is going on.
const MAX_WRITE_ATTEMPTS = 5;

/** Runs `attempt` again, from its first read, each time it loses a race that `isLostRace` recognizes. */
export async function withRetries<T>(
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
