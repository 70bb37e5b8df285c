import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';

/**
 * better-sqlite3's busy timeout spins inside the synchronous call: while another process holds
 * the write lock, the whole event loop waits. The store keeps that in-thread wait to this bound...
 */
export const SQLITE_BUSY_TIMEOUT_MS = 1;
// ...and waits for the lock between attempts on timers instead, backing off up to this interval.
const MAX_LOCK_RETRY_INTERVAL_MS = 25;

/**
 * Kysely's SQLite dialect, waiting for another process's write lock asynchronously: a statement
 * refused with SQLITE_BUSY is tried again on a timer until `lockDeadlineMs` has passed, then the
 * error propagates (and becomes StoreUnavailableError). Transactions begin IMMEDIATE so they take
 * the write lock at their start, where a retry is safe, instead of failing mid-way on a snapshot
 * another writer made stale.
 */
export function createSqliteDialect(config: SqliteDialectConfig, lockDeadlineMs: number): SqliteDialect {
  return new (class extends SqliteDialect {
    override createDriver(): Driver {
      return new LockWaitingSqliteDriver(config, lockDeadlineMs);
    }
  })(config);
}

class LockWaitingSqliteDriver extends SqliteDriver {
  readonly #lockDeadlineMs: number;
  readonly #wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(config: SqliteDialectConfig, lockDeadlineMs: number) {
    super(config);
    this.#lockDeadlineMs = lockDeadlineMs;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    let waiting = this.#wrapped.get(connection);
    if (waiting === undefined) {
      waiting = {
        executeQuery: (query) => retryWhileBusy(() => connection.executeQuery(query), this.#lockDeadlineMs),
        streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
      };
      this.#wrapped.set(connection, waiting);
    }
    return waiting;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

async function retryWhileBusy<R>(
  execute: () => Promise<QueryResult<R>>,
  deadlineMs: number,
): Promise<QueryResult<R>> {
  const giveUpAt = Date.now() + deadlineMs;
  for (let intervalMs = 1; ; intervalMs = Math.min(intervalMs * 2, MAX_LOCK_RETRY_INTERVAL_MS)) {
    try {
      return await execute();
    } catch (error) {
      // Only the plain code: SQLITE_BUSY_SNAPSHOT cannot succeed by waiting.
      if ((error as { code?: unknown } | null)?.code !== 'SQLITE_BUSY' || Date.now() >= giveUpAt) throw error;
      await sleep(Math.min(intervalMs, Math.max(giveUpAt - Date.now(), 0)));
    }
  }
}
