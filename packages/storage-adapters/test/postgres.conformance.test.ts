import { sqlStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { isServiceUp, POSTGRES_URL } from './services.js';
import { tablesOf, uniqueTablePrefix } from './sql-tables.js';

if (await isServiceUp('PostgreSQL', POSTGRES_URL)) {
  let admin: pg.Pool;
  beforeAll(() => {
    admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  });
  afterAll(() => admin.end());

  runStoreConformance('sqlStore (PostgreSQL)', () => {
    const tablePrefix = uniqueTablePrefix();
    const store = sqlStore({ dialect: 'postgres', connectionString: POSTGRES_URL, tablePrefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await admin.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
      },
    };
  });
}
