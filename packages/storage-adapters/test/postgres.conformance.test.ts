import { sqlStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { isServiceUp, POSTGRES_URL } from './services.js';
import { type TablePrefixPool, tablePrefixPool } from './sql-tables.js';

if (await isServiceUp('PostgreSQL', POSTGRES_URL)) {
  let admin: pg.Pool;
  let prefixes: TablePrefixPool;
  beforeAll(() => {
    admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    prefixes = tablePrefixPool(async (statements) => {
      for (const statement of statements) await admin.query(statement);
    });
  });
  afterAll(async () => {
    await prefixes.dropAll();
    await admin.end();
  });

  runStoreConformance('sqlStore (PostgreSQL)', () => {
    const tablePrefix = prefixes.take();
    const store = sqlStore({ dialect: 'postgres', connectionString: POSTGRES_URL, tablePrefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await prefixes.giveBack(tablePrefix);
      },
    };
  });
}
