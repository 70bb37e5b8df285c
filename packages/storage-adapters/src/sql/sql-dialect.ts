import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type Dialect,
  MysqlDialect,
  type MysqlPool,
  PostgresDialect,
  type PostgresPool,
  type SqliteDatabase,
} from 'kysely';
import { createSqliteDialect, SQLITE_BUSY_TIMEOUT_MS, type SqliteTurns } from './sqlite-dialect.js';

/**
 * How to reach the database: a connection string or file the store opens, or the host's own pool.
 *
 * @example
 * sqlStore({ dialect: 'postgres', pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 */
export type SqlConnection =
  /** A `postgres://` URL; the store opens a `pg` pool and closes it on `close()`. */
  | { dialect: 'postgres'; connectionString: string; pool?: undefined }
  /**
   * The host's `pg` `Pool`; the store never ends it. Give its clients an `'error'` listener
   * (`pool.on('connect', (client) => client.on('error', log))`): pg emits one when a connection dies
   * during a query, and an unheard `'error'` event crashes the process.
   */
  | { dialect: 'postgres'; pool: PostgresPool; connectionString?: undefined }
  /** A `mysql://` URL; the store opens a `mysql2` pool and closes it on `close()`. */
  | { dialect: 'mysql'; connectionString: string; pool?: undefined }
  /** The host's `mysql2` pool from `createPool()` (the callback API, not `mysql2/promise`); never ended by the store. */
  | { dialect: 'mysql'; pool: MysqlPool; connectionString?: undefined }
  /** A file path; the store opens it with `better-sqlite3` in WAL mode and closes it on `close()`. */
  | { dialect: 'sqlite'; filename: string; database?: undefined }
  /** The host's `better-sqlite3` `Database`; the store never closes it. */
  | { dialect: 'sqlite'; database: SqliteDatabase; filename?: undefined };

export interface ResolvedDialect {
  dialect: Dialect;
  /** Whether the store opened the connection and so must close it. */
  isOwned: boolean;
}

export interface DialectSettings {
  connectTimeoutMs: number;
  /** Deadline of one statement, enforced by the driver (client side) and, on PostgreSQL, by the server. */
  commandTimeoutMs: number;
  /** How the operations of an SQLite store share its one connection. */
  sqliteTurns: SqliteTurns;
}

/** `connection` has passed sqlStore's schema: a known dialect and exactly one way to connect. */
export function resolveDialect(
  connection: SqlConnection,
  { connectTimeoutMs, commandTimeoutMs, sqliteTurns }: DialectSettings,
): ResolvedDialect {
  switch (connection.dialect) {
    case 'postgres': {
      // By value, not by key: the schema accepts the unused way to connect spelled `undefined`.
      if (connection.pool !== undefined)
        return { dialect: new PostgresDialect({ pool: connection.pool }), isOwned: false };
      const { connectionString } = connection;
      const pool = async () => {
        const { default: pg } = await importDriver(() => import('pg'), 'pg', 'postgres');
        const created = new pg.Pool({
          connectionString,
          connectionTimeoutMillis: connectTimeoutMs,
          // The server cancels a statement stuck on a lock; the client gives up on one stuck on the network.
          statement_timeout: commandTimeoutMs,
          query_timeout: commandTimeoutMs,
          keepAlive: true,
        });
        // A connection that dies emits 'error': pg-pool re-emits it for idle connections, and a
        // checked-out client emits it with no listener attached. Unheard, either crashes the process;
        // the query in flight (or the next one) rejects with the same error anyway.
        created.on('error', () => {});
        created.on('connect', (client) => {
          client.on('error', () => {});
          destroyAfterReadTimeout(client);
        });
        return created;
      };
      return { dialect: new PostgresDialect({ pool }), isOwned: true };
    }
    case 'mysql': {
      if (connection.pool !== undefined)
        return { dialect: new MysqlDialect({ pool: connection.pool }), isOwned: false };
      const uri = connection.connectionString;
      const pool = async () => {
        const mysql = await importDriver(() => import('mysql2'), 'mysql2', 'mysql');
        const created = mysql.createPool({ uri, connectTimeout: connectTimeoutMs, enableKeepAlive: true });
        created.on('connection', (pooled) => withQueryTimeout(pooled, commandTimeoutMs));
        return created;
      };
      return { dialect: new MysqlDialect({ pool }), isOwned: true };
    }
    case 'sqlite': {
      if (connection.database !== undefined) {
        return {
          dialect: createSqliteDialect(
            { database: reusingStatements(connection.database) },
            sqliteTurns,
            commandTimeoutMs,
          ),
          isOwned: false,
        };
      }
      const { filename } = connection;
      const database = async () => {
        const { default: Sqlite } = await importDriver(
          () => import('better-sqlite3'),
          'better-sqlite3',
          'sqlite',
        );
        // A fresh deployment's data directory may not exist yet; SQLite would fail with a bare CANTOPEN.
        if (filename !== ':memory:' && !filename.startsWith('file:')) {
          await mkdir(dirname(filename), { recursive: true });
        }
        const opened = new Sqlite(filename, { timeout: SQLITE_BUSY_TIMEOUT_MS });
        // Readers never block the writer, and other processes can read while one instance writes.
        opened.pragma('journal_mode = WAL');
        return reusingStatements(opened);
      };
      return { dialect: createSqliteDialect({ database }, sqliteTurns, commandTimeoutMs), isOwned: true };
    }
  }
}

type PgClient = import('pg').PoolClient & { connection?: { stream?: { destroy(): void } } };

/**
 * After pg's `query_timeout` fires, the statement is still in flight on that connection: reused,
 * it would make the next caller wait behind it. Cutting the socket makes pg-pool drop the client
 * on release (it is no longer queryable), and an open transaction dies with it, so nothing commits.
 */
function destroyAfterReadTimeout(client: PgClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        if (error instanceof Error && error.message === 'Query read timeout')
          client.connection?.stream?.destroy();
      });
    }
    return result;
  };
}

type MysqlPoolConnection = import('mysql2').PoolConnection;

const LOCK_WAIT = /^\s*select get_lock\(/i;

/**
 * mysql2 has no pool-wide query timeout, so each statement gets one. A timed-out statement is
 * still in flight on its connection, so that connection is destroyed (which also removes it
 * from the pool and rolls back its open transaction) instead of being handed to the next caller.
 */
function withQueryTimeout(connection: MysqlPoolConnection, timeoutMs: number): void {
  const query = connection.query.bind(connection) as (...args: unknown[]) => unknown;
  (connection as unknown as { query: (...args: unknown[]) => unknown }).query = (
    sql: unknown,
    values: unknown,
    callback: unknown,
  ) => {
    if (typeof sql !== 'string' || typeof callback !== 'function') return query(sql, values, callback);
    // A migration-lock wait is bounded by GET_LOCK's own timeout: an instance waits out another's
    // migration, however much longer than one statement that takes.
    if (LOCK_WAIT.test(sql)) return query(sql, values, callback);
    return query({ sql, timeout: timeoutMs }, values, (error: unknown, ...rest: unknown[]) => {
      if ((error as { code?: unknown } | null)?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') connection.destroy();
      (callback as (...args: unknown[]) => void)(error, ...rest);
    });
  };
}

// Distinct SQL texts come from this package's queries, so the cache stays small; the bound is a backstop.
const MAX_CACHED_STATEMENTS = 500;

/**
 * Kysely prepares every query it runs, and preparing costs better-sqlite3 more than running a
 * simple indexed statement. The store's statements repeat, so each SQL text is prepared once.
 * Reuse is safe because better-sqlite3 runs a statement to completion synchronously (the store
 * never streams, the one case where a statement stays busy).
 */
function reusingStatements(database: SqliteDatabase): SqliteDatabase {
  const statements = new Map<string, ReturnType<SqliteDatabase['prepare']>>();
  return {
    close: () => database.close(),
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        if (statements.size >= MAX_CACHED_STATEMENTS) statements.clear();
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

async function importDriver<T>(load: () => Promise<T>, name: string, dialect: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw new Error(`sqlStore: the '${dialect}' dialect needs the \`${name}\` package installed`, {
      cause: error,
    });
  }
}
