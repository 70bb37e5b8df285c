import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyv } from '@keyv/redis';
import type { Store } from '@rialto-exchange/core';
import { keyvStore, memoryStore, redisStore, sqlStore } from '@rialto-exchange/storage-adapters';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll } from 'vitest';
import { deleteKeys, uniqueKeyPrefix } from './redis-keys.js';
import { MYSQL_URL, POSTGRES_URL, REDIS_URL } from './services.js';
import { tablePrefixPool, uniqueTablePrefix } from './sql-tables.js';

export type StoreKind = 'memory' | 'sqlite' | 'redis' | 'postgres' | 'mysql' | 'keyv';

export interface DisposableStore {
  store: Store;
  /** How another process reaches the same data, for `storeFromUrl` (not for memory or keyv). */
  url?: string;
  /** The prefix `url` must be opened with. */
  prefix?: { keyPrefix?: string; tablePrefix?: string };
  /** Closes the store and deletes everything it wrote. */
  dispose(): Promise<void>;
}

/**
 * Migrated table sets this test file's stores hand on to each other (see `tablePrefixPool`); a store
 * reached through a proxy (`via`) gets a prefix of its own, so a test of a failing start-up sees one.
 */
const sqlPrefixes = {
  postgres: tablePrefixPool(async (statements) => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      for (const statement of statements) await admin.query(statement);
    } finally {
      await admin.end();
    }
  }),
  mysql: tablePrefixPool(async (statements) => {
    const admin = await mysql.createConnection({ uri: MYSQL_URL });
    try {
      for (const statement of statements) await admin.query(statement);
    } finally {
      await admin.end();
    }
  }),
};
afterAll(async () => {
  await sqlPrefixes.postgres.dropAll();
  await sqlPrefixes.mysql.dropAll();
});

/** The service each kind needs, for `isServiceUp`. */
export const SERVICE_OF: Partial<Record<StoreKind, [string, string]>> = {
  redis: ['Redis', REDIS_URL],
  keyv: ['Redis (for Keyv)', REDIS_URL],
  postgres: ['PostgreSQL', POSTGRES_URL],
  mysql: ['MariaDB', MYSQL_URL],
};

export interface DisposableStoreOptions {
  /** Reach the service through this URL instead (e.g. a TCP proxy); cleanup still goes direct. */
  via?: string;
  /** Connect and command timeouts of the store. */
  timeoutMs?: number;
}

/** A fresh store of `kind` on the local services, isolated by a unique prefix or file. */
export function disposableStore(kind: StoreKind, options: DisposableStoreOptions = {}): DisposableStore {
  const timeouts =
    options.timeoutMs === undefined
      ? {}
      : { connectTimeoutMs: options.timeoutMs, commandTimeoutMs: options.timeoutMs };
  switch (kind) {
    case 'memory':
      return { store: memoryStore(), dispose: async () => {} };
    case 'sqlite': {
      const directory = mkdtempSync(join(tmpdir(), 'rialto-store-'));
      const filename = join(directory, 'rialto.db');
      const store = sqlStore({ dialect: 'sqlite', filename });
      return {
        store,
        url: `sqlite:${filename}`,
        dispose: async () => {
          await store.close();
          rmSync(directory, { recursive: true, force: true });
        },
      };
    }
    case 'redis': {
      const keyPrefix = uniqueKeyPrefix();
      const store = redisStore(
        { url: options.via ?? REDIS_URL },
        {
          keyPrefix,
          ...timeouts,
        },
      );
      return {
        store,
        url: REDIS_URL,
        prefix: { keyPrefix },
        dispose: async () => {
          await store.close();
          const admin = await createClient({ url: REDIS_URL }).connect();
          await deleteKeys(admin, keyPrefix);
          await admin.close();
        },
      };
    }
    case 'postgres': {
      const tablePrefix = options.via === undefined ? sqlPrefixes.postgres.take() : uniqueTablePrefix();
      const store = sqlStore({
        dialect: 'postgres',
        connectionString: options.via ?? POSTGRES_URL,
        tablePrefix,
        ...timeouts,
      });
      return {
        store,
        url: POSTGRES_URL,
        prefix: { tablePrefix },
        dispose: async () => {
          await store.close();
          await sqlPrefixes.postgres.giveBack(tablePrefix);
        },
      };
    }
    case 'mysql': {
      const tablePrefix = options.via === undefined ? sqlPrefixes.mysql.take() : uniqueTablePrefix();
      const store = sqlStore({
        dialect: 'mysql',
        connectionString: options.via ?? MYSQL_URL,
        tablePrefix,
        ...timeouts,
      });
      return {
        store,
        url: MYSQL_URL,
        prefix: { tablePrefix },
        dispose: async () => {
          await store.close();
          await sqlPrefixes.mysql.giveBack(tablePrefix);
        },
      };
    }
    case 'keyv': {
      const keyv = createKeyv(REDIS_URL, {
        namespace: `rialto-test-keyv-${uniqueKeyPrefix()}`,
        throwOnErrors: true,
      });
      return {
        store: keyvStore(keyv, { sharedBetweenProcesses: false }),
        dispose: async () => {
          await keyv.clear();
          await keyv.disconnect();
        },
      };
    }
  }
}
