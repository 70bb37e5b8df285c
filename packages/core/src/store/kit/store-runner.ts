import { StoreUnavailableError } from '../../errors.js';

/**
 * What a store adapter tells `createStoreRunner` about its backend.
 *
 * @example
 * const options: StoreRunnerOptions = { backend: 'MyDB', timeoutMs: 5_000, isUnavailable: isConnectionError };
 */
export interface StoreRunnerOptions {
  /** Names the backend in error messages, e.g. `'The SQL database'`, `'Redis'`. */
  backend: string;
  /** Deadline of every operation, counted from its start (after `migrate`, see below). */
  timeoutMs: number;
  /**
   * Whether an error the backend or its driver raised means "unreachable or failing now" (a refused
   * or lost connection, a timeout, a lock held past the deadline, a server shutting down). Those
   * become `StoreUnavailableError` (503, retried by clients); any other error is a bug and is
   * rethrown as it is (500).
   */
  isUnavailable(error: unknown): boolean;
  /**
   * Brings the backend to what this release reads (connects, creates or upgrades tables, moves
   * keys). Must be idempotent and safe from several instances at once. Run at most once at a time;
   * after it fails, the next call runs it again. A migration may take long, so it has no deadline
   * as a whole; `step` runs one of its steps (a command, a statement) under the operations'
   * deadline, for backends whose driver does not bound each one itself.
   */
  migrate?: (step: <T>(operation: (deadlineAt: number) => Promise<T>) => Promise<T>) => Promise<void>;
  /**
   * Whether operations wait for `migrate` before they start (and fail as unavailable when it
   * fails), or the host runs it from a release step instead.
   * @default true
   */
  migrateBeforeFirstCall?: boolean;
  /**
   * Releases what the store opened (pools, files, sockets, timers). Called once, by `close()`, after
   * which operations are refused. Leave it out when the backend is the host's (a client or pool
   * passed in): `close()` then releases nothing and the store keeps answering.
   */
  release?: () => Promise<void>;
  /**
   * After an operation fails as unavailable, fail the next ones at once for this long instead of
   * letting each wait out the deadline; then one operation at a time probes the backend.
   * Off by default.
   */
  failFastMs?: number;
}

/**
 * Runs a store's operations against its backend, owning the rules every adapter needs: the
 * deadline, the mapping of backend failures to `StoreUnavailableError`, the migration gate, and
 * what happens after `close()`.
 *
 * @example
 * getUser: (orgId, userId) => runner.run(() => readUser(orgId, userId)),
 */
export interface StoreRunner {
  /**
   * Runs `operation` once `migrate` has succeeded (when the runner gates on it), and settles with
   * its outcome, or rejects with `StoreUnavailableError` when it has not settled `timeoutMs` after
   * it started. A late outcome is ignored: the operation is not stopped, so it must not write after
   * `deadlineAt` (`performance.now()` milliseconds). Give `deadlineAt` to the backend where it can
   * enforce it (a statement timeout, a lock wait, a check before the write), or order the writes
   * so that one landing late is harmless to the caller's retry.
   */
  run<T>(operation: (deadlineAt: number) => Promise<T>): Promise<T>;
  /** Runs `migrate` (the same run as a concurrent call's); resolves once the backend is ready. */
  migrate(): Promise<void>;
  /**
   * Waits for the running operations to settle (each within its deadline), then calls `release`.
   * Idempotent: every call resolves with the first one. With `release`, operations started after it
   * reject with `StoreUnavailableError`; without, they run as before.
   */
  close(): Promise<void>;
}

/**
 * The runner of a store adapter's operations, shared by every built-in adapter and exported for
 * third-party ones. See docs/store-adapters.md.
 *
 * @example
 * const runner = storeKit.createStoreRunner({
 *   backend: 'MyDB',
 *   timeoutMs: 5_000,
 *   isUnavailable: (error) => (error as { code?: string }).code === 'ECONNREFUSED',
 *   migrate: () => createTables(pool),
 *   release: () => pool.end(),
 * });
 * const store: Store = {
 *   getUser: (orgId, userId) => runner.run(() => selectUser(pool, orgId, userId)),
 *   // ...
 *   migrate: () => runner.migrate(),
 *   close: () => runner.close(),
 * };
 */
export function createStoreRunner(options: StoreRunnerOptions): StoreRunner {
  const { backend, timeoutMs, isUnavailable, failFastMs } = options;
  const gatesOnMigrate = options.migrate !== undefined && options.migrateBeforeFirstCall !== false;

  function toStoreError(error: unknown): unknown {
    if (error instanceof StoreUnavailableError || !isUnavailable(error)) return error;
    return new StoreUnavailableError(`${backend} is unreachable or failed mid-operation.`, { cause: error });
  }

  let migrated: Promise<void> | undefined;
  let isMigrated = false;
  function migrate(): Promise<void> {
    const run = options.migrate;
    if (run === undefined || isMigrated) return Promise.resolve();
    migrated ??= run(attempt).then(
      () => {
        isMigrated = true;
      },
      (error: unknown) => {
        // The next call tries again, e.g. once the backend is reachable.
        migrated = undefined;
        throw toStoreError(error);
      },
    );
    return migrated;
  }

  let isClosed = false;
  let closing: Promise<void> | undefined;
  let running = 0;
  let drained: (() => void) | undefined;

  let failedAtMs: number | undefined;
  let isProbing = false;

  function attempt<T>(operation: (deadlineAt: number) => Promise<T>): Promise<T> {
    let isProbe = false;
    if (failedAtMs !== undefined && failFastMs !== undefined) {
      if (isProbing || performance.now() - failedAtMs < failFastMs) {
        return Promise.reject(
          new StoreUnavailableError(`${backend} failed moments ago; not asking it again yet.`),
        );
      }
      isProbing = isProbe = true;
    }
    const deadlineAt = performance.now() + timeoutMs;
    running++;
    return new Promise<T>((resolve, reject) => {
      let isSettled = false;
      function settle(): boolean {
        if (isSettled) return false;
        isSettled = true;
        clearTimeout(timer);
        if (isProbe) isProbing = false;
        if (--running === 0) drained?.();
        return true;
      }
      // Timers may fire a little early by the monotonic clock; the operation checks that clock.
      function expire() {
        const leftMs = deadlineAt - performance.now();
        if (leftMs > 0) {
          timer = setTimeout(expire, Math.ceil(leftMs));
          return;
        }
        if (!settle()) return;
        failedAtMs = performance.now();
        reject(new StoreUnavailableError(`${backend} did not answer within ${timeoutMs} ms.`));
      }
      let timer = setTimeout(expire, timeoutMs);
      let pending: Promise<T>;
      try {
        pending = operation(deadlineAt);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (!settle()) return;
          failedAtMs = undefined;
          resolve(value);
        },
        (error: unknown) => {
          if (!settle()) return;
          const mapped = toStoreError(error);
          if (mapped instanceof StoreUnavailableError) failedAtMs = performance.now();
          reject(mapped);
        },
      );
    });
  }

  return {
    run(operation) {
      if (isClosed) return Promise.reject(closedError());
      if (!gatesOnMigrate || isMigrated) return attempt(operation);
      return migrate().then(() => attempt(operation));
    },

    migrate() {
      return isClosed ? Promise.reject(closedError()) : migrate();
    },

    close() {
      if (closing === undefined) {
        isClosed = options.release !== undefined;
        const settled =
          running === 0
            ? Promise.resolve()
            : new Promise<void>((resolve) => {
                drained = resolve;
              });
        closing = settled.then(() => options.release?.());
      }
      return closing;
    },
  };
}

function closedError(): StoreUnavailableError {
  return new StoreUnavailableError('The store was closed; it takes no more calls.');
}
