import { sqlStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { isServiceUp, MYSQL_URL } from './services.js';
import { type TablePrefixPool, tablePrefixPool } from './sql-tables.js';

if (await isServiceUp('MariaDB/MySQL', MYSQL_URL)) {
  let admin: mysql.Pool;
  let prefixes: TablePrefixPool;
  beforeAll(() => {
    admin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2 });
    prefixes = tablePrefixPool(async (statements) => {
      for (const statement of statements) await admin.query(statement);
    });
  });
  afterAll(async () => {
    await prefixes.dropAll();
    await admin.end();
  });

  runStoreConformance('sqlStore (MySQL/MariaDB)', () => {
    const tablePrefix = prefixes.take();
    const store = sqlStore({ dialect: 'mysql', connectionString: MYSQL_URL, tablePrefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await prefixes.giveBack(tablePrefix);
      },
    };
  });
}
