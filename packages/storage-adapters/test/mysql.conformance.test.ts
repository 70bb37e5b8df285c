import { sqlStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { isServiceUp, MYSQL_URL } from './services.js';
import { tablesOf, uniqueTablePrefix } from './sql-tables.js';

if (await isServiceUp('MariaDB/MySQL', MYSQL_URL)) {
  let admin: mysql.Pool;
  beforeAll(() => {
    admin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2 });
  });
  afterAll(() => admin.end());

  runStoreConformance('sqlStore (MySQL/MariaDB)', () => {
    const tablePrefix = uniqueTablePrefix();
    const store = sqlStore({ dialect: 'mysql', connectionString: MYSQL_URL, tablePrefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await admin.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
      },
    };
  });
}
