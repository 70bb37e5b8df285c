import { type SqlStore, sqlStore } from '@rialto-exchange/storage-adapters';
import { createPool } from 'mysql2';
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { apiKey, issuerRegistration, organization } from '../src/conformance/fixtures.js';
import {
  expectLegacyOrganizationsUpgraded,
  legacyOrganizationInsert,
  legacyOrganizations,
  undoIssuerRegistrationsMigration,
} from './legacy-issuer-data.js';
import {
  expectLegacyDatabaseAdopted,
  expectMigrationWaitsForItsPrefixLock,
  MIGRATION_NAMES,
  type ServerDatabase,
} from './legacy-migration-runner.js';
import { isServiceUp, MYSQL_URL } from './services.js';
import {
  COMMAND_TIMEOUT_MS,
  CONNECT_TIMEOUT_MS,
  expectRefusedConnectionsToFailThenRecover,
  expectStalledStatementsToFailWithinDeadline,
} from './sql-network-failures.js';
import { tablesOf, uniqueTablePrefix } from './sql-tables.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

if (await isServiceUp('MariaDB/MySQL', MYSQL_URL)) {
  let admin: mysql.Pool;
  beforeAll(() => {
    admin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2 });
  });
  afterAll(() => admin.end());

  function dropTables(tablePrefix: string) {
    return admin.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
  }

  function storeAt(url: string, tablePrefix = uniqueTablePrefix()): SqlStore {
    const store = sqlStore({
      dialect: 'mysql',
      connectionString: url,
      tablePrefix,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    });
    onTestFinished(async () => {
      await store.close();
      await dropTables(tablePrefix);
    });
    return store;
  }

  const database: ServerDatabase = {
    storeAt: (tablePrefix) => storeAt(MYSQL_URL, tablePrefix),
    execute: async (statement) => {
      await admin.query(statement);
    },
    migrationRows: async (tablePrefix) =>
      (await admin.query(`select name, timestamp from ${tablePrefix}kysely_migration`))[0] as {
        name: string;
        timestamp: string;
      }[],
    async holdMigrationLock(lockName) {
      const holder = await admin.getConnection();
      await holder.query('select get_lock(?, 10)', [lockName]);
      return async () => {
        await holder.query('select release_lock(?)', [lockName]);
        holder.release();
      };
    },
  };

  describe('sqlStore (MySQL/MariaDB) when the network fails', () => {
    let proxy: TcpProxy;
    beforeEach(async () => {
      proxy = await startTcpProxy(MYSQL_URL);
    });
    afterEach(() => proxy.close());

    it('rejects with StoreUnavailableError while connections are refused, then recovers by itself', async () => {
      await expectRefusedConnectionsToFailThenRecover(storeAt(proxy.url), proxy);
    });

    it('fails every call within commandTimeoutMs while established connections stall, and reuses none of them', async () => {
      await expectStalledStatementsToFailWithinDeadline(storeAt(proxy.url), proxy);
    });
  });

  describe('sqlStore (MySQL/MariaDB)', () => {
    it('migration 5 turns the issuer of each organization written before it into its first registration', async () => {
      const tablePrefix = uniqueTablePrefix();
      await storeAt(MYSQL_URL, tablePrefix).migrate();
      const legacy = legacyOrganizations();
      for (const statement of undoIssuerRegistrationsMigration(tablePrefix)) await admin.query(statement);
      for (const org of Object.values(legacy)) await admin.query(legacyOrganizationInsert(tablePrefix, org));

      await expectLegacyOrganizationsUpgraded(storeAt(MYSQL_URL, tablePrefix), legacy);
    });

    it("adopts a database the runner before Kysely's Migrator created, with two instances starting at once: nothing runs again, data stays, migration 7 applies", () =>
      expectLegacyDatabaseAdopted(database));

    it("waits for the migration lock of its table prefix (the name an earlier release's runner took), and for no other prefix's", () =>
      expectMigrationWaitsForItsPrefixLock(database));

    it('migrates once when several instances start at once, and migrate() is idempotent', async () => {
      const tablePrefix = uniqueTablePrefix();
      const stores = Array.from({ length: 4 }, () => storeAt(MYSQL_URL, tablePrefix));

      await Promise.all(stores.map((store) => store.migrate()));
      await stores[0]?.migrate();

      const [rows] = await admin.query(`select name from ${tablePrefix}kysely_migration order by name`);
      expect(rows).toEqual(MIGRATION_NAMES.map((name) => ({ name })));
      const org = organization();
      expect(await stores[1]?.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId))).toBe(
        'created',
      );
      expect(await stores[2]?.getOrganization(org.orgId)).toEqual(org);
    });

    it("uses the host's pool and leaves it open on close()", async () => {
      const tablePrefix = uniqueTablePrefix();
      const pool = createPool({ uri: MYSQL_URL, connectionLimit: 2 });
      onTestFinished(async () => {
        await pool.promise().end();
        await dropTables(tablePrefix);
      });
      const store = sqlStore({ dialect: 'mysql', pool, tablePrefix });
      const org = organization();

      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      await store.close();

      expect(await store.getOrganization(org.orgId)).toEqual(org);
    });
  });
}
