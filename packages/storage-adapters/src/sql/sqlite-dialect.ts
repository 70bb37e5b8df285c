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
import { pastDeadline } from './sql-errors.js';

/**
 * better-sqlite3's busy timeout sleeps inside the synchronous call: while another process holds
 * the write lock, the whole event loop waits. The store sets none, so a statement refused the lock
 * fails at once...
 */
export const SQLITE_BUSY_TIMEOUT_MS = 0;
// ...and waits for it on timers instead, backing off up to this interval.
const MAX_LOCK_RETRY_INTERVAL_MS = 25;
const AT_ONCE = Promise.resolve();

/**
 * The operations of one SQLite store take turns on its single connection, one at a time, so the
 * connection always knows whose deadline a statement runs under and refuses to start one past
 * it: an operation answered 503 never writes afterwards (issue 19). While another process holds
 * the write lock, an operation refused with SQLITE_BUSY gives up its turn and tries again, from its
 * start, until its deadline; meanwhile the others (reads never wait for the lock in WAL mode) have
 * their turns. Every operation is written to be safe to run again from its start.
 *
 * The waiting is shared: operations refused with SQLITE_BUSY wait for one timer, which backs off
 * while the lock stays held, and when it fires the first of them to get its turn tries the lock for
 * all; if it is still held, the others wait for the next tick without trying. However many calls
 * are waiting, the lock costs a few attempts a second.
 */
export class SqliteTurns {
  /** `performance.now()` deadline of the operation whose turn it is; none between operations. */
  deadlineAt = Number.POSITIVE_INFINITY;
  #isTaken = false;
  readonly #waiting: Array<() => void> = [];
  /** The next try at another process's write lock, while one is held. */
  #nextTry: Promise<number> | undefined;
  #nextTryInMs = 1;
  /** When an operation was last refused the lock. */
  #refusedAt = Number.NEGATIVE_INFINITY;

  /** Runs `operation` in its turn, again after each SQLITE_BUSY, until `deadlineAt`. */
  async run<T>(deadlineAt: number, operation: (deadlineAt: number) => Promise<T>): Promise<T> {
    let busy: unknown;
    let wokeAt = Number.POSITIVE_INFINITY;
    for (;;) {
      await this.#take();
      try {
        // An operation that waited out its deadline for its turn never starts.
        if (performance.now() >= deadlineAt) throw pastDeadline(busy);
        // Someone tried the lock since this one woke, and found it held: wait for the next try.
        if (this.#refusedAt < wokeAt) {
          this.deadlineAt = deadlineAt;
          const result = await operation(deadlineAt);
          if (busy !== undefined) this.#nextTryInMs = 1;
          return result;
        }
      } catch (error) {
        if (!isBusy(error)) throw error;
        busy = error;
        this.#refusedAt = performance.now();
      } finally {
        this.deadlineAt = Number.POSITIVE_INFINITY;
        this.#give();
      }
      wokeAt = await this.#lockTried();
    }
  }

  /**
   * Runs `work` alone, under no deadline: migrations, which may take long and wait for the lock
   * statement by statement instead.
   */
  async alone<T>(work: () => Promise<T>): Promise<T> {
    await this.#take();
    try {
      return await work();
    } finally {
      this.#give();
    }
  }

  /** Resolves, with the time, when the lock is next to be tried; the interval backs off while it is held. */
  #lockTried(): Promise<number> {
    if (this.#nextTry === undefined) {
      this.#nextTry = sleep(this.#nextTryInMs).then(() => {
        this.#nextTry = undefined;
        return performance.now();
      });
      this.#nextTryInMs = Math.min(this.#nextTryInMs * 2, MAX_LOCK_RETRY_INTERVAL_MS);
    }
    return this.#nextTry;
  }

  #take(): Promise<void> {
    if (!this.#isTaken) {
      this.#isTaken = true;
      return AT_ONCE;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#isTaken = false;
  }
}

/**
 * Kysely's SQLite dialect under `turns`: a statement of an operation starts only before the
 * operation's deadline, and SQLITE_BUSY goes back to the operation (see `SqliteTurns`). Statements
 * outside operations (migrations) wait for another process's write lock themselves, on timers,
 * for at most `lockWaitMs` each. Transactions begin IMMEDIATE so they take the write lock at their
 * start, where a retry is safe, instead of failing mid-way on a snapshot another writer made stale.
 */
export function createSqliteDialect(
  config: SqliteDialectConfig,
  turns: SqliteTurns,
  lockWaitMs: number,
): SqliteDialect {
  return new (class extends SqliteDialect {
    override createDriver(): Driver {
      return new TurnTakingSqliteDriver(config, turns, lockWaitMs);
    }
  })(config);
}

class TurnTakingSqliteDriver extends SqliteDriver {
  readonly #turns: SqliteTurns;
  readonly #lockWaitMs: number;
  #connection: DatabaseConnection | undefined;
  #inTurns: DatabaseConnection | undefined;

  constructor(config: SqliteDialectConfig, turns: SqliteTurns, lockWaitMs: number) {
    super(config);
    this.#turns = turns;
    this.#lockWaitMs = lockWaitMs;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    if (this.#connection !== connection) {
      this.#connection = connection;
      this.#inTurns = {
        executeQuery: (query) => this.#execute(connection, query),
        streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
      };
    }
    return this.#inTurns as DatabaseConnection;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  // A rollback must run past the deadline too: it is what undoes a transaction the deadline cut short.
  override async rollbackTransaction(): Promise<void> {
    await this.#connection?.executeQuery(CompiledQuery.raw('rollback'));
  }

  #execute<R>(connection: DatabaseConnection, query: CompiledQuery): Promise<QueryResult<R>> {
    const { deadlineAt } = this.#turns;
    if (deadlineAt === Number.POSITIVE_INFINITY) {
      return waitingWhileBusy(() => connection.executeQuery<R>(query), this.#lockWaitMs);
    }
    if (performance.now() >= deadlineAt) return Promise.reject(pastDeadline());
    return connection.executeQuery<R>(query);
  }
}

function isBusy(error: unknown): boolean {
  // Only the plain code: SQLITE_BUSY_SNAPSHOT cannot succeed by waiting.
  return (error as { code?: unknown } | null)?.code === 'SQLITE_BUSY';
}

async function waitingWhileBusy<R>(
  execute: () => Promise<QueryResult<R>>,
  lockWaitMs: number,
): Promise<QueryResult<R>> {
  const giveUpAt = performance.now() + lockWaitMs;
  for (let intervalMs = 1; ; intervalMs = Math.min(intervalMs * 2, MAX_LOCK_RETRY_INTERVAL_MS)) {
    try {
      return await execute();
    } catch (error) {
      if (!isBusy(error) || performance.now() >= giveUpAt) throw error;
      await sleep(Math.min(intervalMs, Math.max(giveUpAt - performance.now(), 0)));
    }
  }
}
