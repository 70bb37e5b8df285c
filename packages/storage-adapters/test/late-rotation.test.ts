import { setTimeout as sleep } from 'node:timers/promises';
import { type Store, StoreUnavailableError } from '@rialto-exchange/core';
import { sqlStore } from '@rialto-exchange/storage-adapters';
import { createPool } from 'mysql2';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nowSeconds, refreshToken, successorOf } from '../src/conformance/fixtures.js';
import { isServiceUp, MYSQL_URL, POSTGRES_URL } from './services.js';
import { tablesOf, uniqueTablePrefix } from './sql-tables.js';

/*
 * A rotation whose statement waits on a lock that another session holds past the call's deadline
 * (a migration, a long transaction, a host's LOCK TABLE). The caller is answered 503; the statement
 * must not land when the lock goes, or the caller's retry would read its token as already used,
 * once the grace window has passed, and lose the session (issue 19). The host's pool sets no
 * statement timeout, so the store's own deadline is all that stands in the way.
 */

const COMMAND_TIMEOUT_MS = 300;
const LOCK_HELD_MS = 3 * COMMAND_TIMEOUT_MS;
const SETTLE_MS = 5_000;

interface LockedDatabase {
  store: Store;
  /** Locks the refresh-token table against writes from another session, until `unlock`. */
  lock(): Promise<void>;
  unlock(): Promise<void>;
  /** How many statements of other sessions are still running against the store's tables. */
  runningStatements(): Promise<number>;
  successorsOf(jti: string): Promise<number>;
}

async function postgres(tablePrefix: string): Promise<LockedDatabase> {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  pool.on('error', () => {});
  const holder = new pg.Client({ connectionString: POSTGRES_URL });
  await holder.connect();
  const store = sqlStore({ dialect: 'postgres', pool, tablePrefix, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  onTestFinished(async () => {
    await holder.end();
    await store.close();
    await pool.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
    await pool.end();
  });
  return {
    store,
    async lock() {
      await holder.query('begin');
      await holder.query(`lock table ${tablePrefix}refresh_tokens in exclusive mode`);
    },
    async unlock() {
      await holder.query('commit');
    },
    async runningStatements() {
      const { rows } = await holder.query(
        `select count(*)::int as running from pg_stat_activity
         where state = 'active' and pid <> pg_backend_pid() and query like $1`,
        [`%${tablePrefix}refresh_tokens%`],
      );
      return rows[0].running;
    },
    async successorsOf(jti) {
      const { rows } = await holder.query(
        `select count(*)::int as successors from ${tablePrefix}refresh_tokens where parent_jti = $1`,
        [jti],
      );
      return rows[0].successors;
    },
  };
}

async function mariadb(tablePrefix: string): Promise<LockedDatabase> {
  const pool = createPool({ uri: MYSQL_URL, connectionLimit: 2 });
  const holder = await mysql.createConnection({ uri: MYSQL_URL });
  const store = sqlStore({ dialect: 'mysql', pool, tablePrefix, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  onTestFinished(async () => {
    await holder.query('unlock tables');
    await store.close();
    await holder.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
    await holder.end();
    await pool.promise().end();
  });
  const count = async (statement: string, values: unknown[]) => {
    const [rows] = await holder.query(statement, values);
    return Number((rows as Array<{ n: number }>)[0]?.n);
  };
  return {
    store,
    async lock() {
      await holder.query(`lock tables ${tablePrefix}refresh_tokens write`);
    },
    async unlock() {
      await holder.query('unlock tables');
    },
    runningStatements: () =>
      count(
        `select count(*) as n from information_schema.processlist
         where id <> connection_id() and info like ?`,
        [`%${tablePrefix}refresh_tokens%`],
      ),
    // Read once the lock is gone: LOCK TABLES lets its own session read only the locked tables.
    successorsOf: (jti) =>
      count(`select count(*) as n from ${tablePrefix}refresh_tokens where parent_jti = ?`, [jti]),
  };
}

const DATABASES = { postgres: [POSTGRES_URL, postgres], mysql: [MYSQL_URL, mariadb] } as const;

describe.each(['postgres', 'mysql'] as const)('a rotation held up by a lock on %s', async (kind) => {
  const [url, open] = DATABASES[kind];
  if (!(await isServiceUp(kind === 'postgres' ? 'PostgreSQL' : 'MariaDB', url))) return;

  it('is answered StoreUnavailableError at its deadline and never lands afterwards: the retry rotates the token', async () => {
    const database = await open(uniqueTablePrefix());
    const { store } = database;
    const presented = refreshToken();
    await store.saveRefreshToken(presented);
    const rotation = { jti: presented.jti, now: nowSeconds(), graceSeconds: 10 };

    await database.lock();
    const started = store.rotateRefreshToken({ ...rotation, successor: successorOf(presented) });
    await expect(started).rejects.toBeInstanceOf(StoreUnavailableError);
    await sleep(LOCK_HELD_MS);
    await database.unlock();
    // The statement waited on the lock all along; now it runs, and must write nothing.
    await expect.poll(() => database.runningStatements(), { timeout: SETTLE_MS }).toBe(0);
    expect(await database.successorsOf(presented.jti)).toBe(0);

    const retried = await store.rotateRefreshToken({ ...rotation, successor: successorOf(presented) });
    expect(retried.outcome).toBe('rotated');
  });
});
