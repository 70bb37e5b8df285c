/**
 * The stores the rialto target can run on. Adapters other than `memoryStore` are looked up by
 * name at run time, so the bench keeps working (and says which rows it skipped) while an adapter
 * does not exist yet.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@rialto-exchange/core';
import * as adapters from '@rialto-exchange/storage-adapters';

export type StoreKind = 'memory' | 'redis' | 'postgres' | 'sqlite';

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The export of @rialto-exchange/storage-adapters each kind needs. */
export const ADAPTER_EXPORT: Record<StoreKind, string> = {
  memory: 'memoryStore',
  redis: 'redisStore',
  postgres: 'sqlStore',
  sqlite: 'sqlStore',
};

export interface BenchStore {
  store: Store;
  description: string;
  /** Closes connections and removes what the bench wrote (keys, tables, files). */
  cleanup(): Promise<void>;
}

type Factory = (...args: unknown[]) => Store & { close?: () => Promise<void> | void };

function adapter(kind: StoreKind): Factory | undefined {
  const candidate = (adapters as Record<string, unknown>)[ADAPTER_EXPORT[kind]];
  return typeof candidate === 'function' ? (candidate as Factory) : undefined;
}

/** Whether @rialto-exchange/storage-adapters exports the factory a store kind needs. */
export function adapterExists(kind: StoreKind): boolean {
  return adapter(kind) !== undefined;
}

export async function makeStore(kind: StoreKind): Promise<BenchStore> {
  const factory = adapter(kind);
  if (!factory) throw new Error(`@rialto-exchange/storage-adapters does not export ${ADAPTER_EXPORT[kind]}`);
  // BENCH_STORE_UNIQUE lets a driver that seeds the store itself (bench/scale.ts) know the prefix.
  const unique = process.env.BENCH_STORE_UNIQUE ?? randomUUID().slice(0, 8);
  switch (kind) {
    case 'memory':
      return { store: factory(), description: 'memoryStore()', cleanup: async () => {} };
    case 'redis': {
      const keyPrefix = `rialto-bench:${unique}:`;
      const store = factory({ url: REDIS_URL }, { keyPrefix });
      return {
        store,
        description: `redisStore() on ${new URL(REDIS_URL).host}, prefix ${keyPrefix}`,
        cleanup: async () => {
          await store.close?.();
          await deleteRedisKeys(keyPrefix);
        },
      };
    }
    case 'postgres': {
      const tablePrefix = `rialto_bench_${unique}_`;
      const store = factory({ dialect: 'postgres', connectionString: POSTGRES_URL, tablePrefix });
      return {
        store,
        description: `sqlStore() on PostgreSQL ${new URL(POSTGRES_URL).host}, tables ${tablePrefix}*`,
        cleanup: async () => {
          await store.close?.();
          await dropPostgresTables(tablePrefix);
        },
      };
    }
    case 'sqlite': {
      const directory = mkdtempSync(join(tmpdir(), 'rialto-bench-'));
      const file = join(directory, 'bench.sqlite');
      const store = factory({ dialect: 'sqlite', filename: file });
      return {
        store,
        description: 'sqlStore() on SQLite (temp file)',
        cleanup: async () => {
          await store.close?.();
          rmSync(directory, { recursive: true, force: true });
        },
      };
    }
  }
}

export async function deleteRedisKeys(prefix: string): Promise<void> {
  const { createClient } = await import('redis');
  const admin = await createClient({ url: REDIS_URL }).connect();
  try {
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await admin.unlink(keys);
    }
  } finally {
    admin.destroy();
  }
}

export async function dropPostgresTables(prefix: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ tablename: string }>(
      'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)',
      [prefix],
    );
    for (const { tablename } of rows) await client.query(`DROP TABLE IF EXISTS "${tablename}" CASCADE`);
  } finally {
    await client.end();
  }
}
