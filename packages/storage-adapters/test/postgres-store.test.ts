import { StoreUnavailableError } from '@rialto-exchange/core';
import { type SqlStore, sqlStore } from '@rialto-exchange/storage-adapters';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { apiKey, issuerRegistration, organization } from '../src/conformance/fixtures.js';
import { eventually, within } from './deadline.js';
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
import { isServiceUp, POSTGRES_URL } from './services.js';
import {
  COMMAND_TIMEOUT_MS,
  CONNECT_TIMEOUT_MS,
  expectRefusedConnectionsToFailThenRecover,
  expectStalledStatementsToFailWithinDeadline,
  MARGIN_MS,
  RECOVERY_MS,
} from './sql-network-failures.js';
import { tablesOf, uniqueTablePrefix } from './sql-tables.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

if (await isServiceUp('PostgreSQL', POSTGRES_URL)) {
  let admin: pg.Pool;
  beforeAll(() => {
    admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 3 });
  });
  afterAll(() => admin.end());

  function storeAt(url: string, tablePrefix = uniqueTablePrefix()): SqlStore {
    const store = sqlStore({
      dialect: 'postgres',
      connectionString: url,
      tablePrefix,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    });
    onTestFinished(async () => {
      await store.close();
      await admin.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
    });
    return store;
  }

  const database: ServerDatabase = {
    storeAt: (tablePrefix) => storeAt(POSTGRES_URL, tablePrefix),
    execute: async (statement) => {
      await admin.query(statement);
    },
    migrationRows: async (tablePrefix) =>
      (await admin.query(`select name, timestamp from ${tablePrefix}kysely_migration`)).rows,
    async holdMigrationLock(lockName) {
      const holder = await admin.connect();
      await holder.query('select pg_advisory_lock(hashtext($1))', [lockName]);
      return async () => {
        await holder.query('select pg_advisory_unlock(hashtext($1))', [lockName]);
        holder.release();
      };
    },
  };

  describe('sqlStore (PostgreSQL) when the network fails', () => {
    let proxy: TcpProxy;
    beforeEach(async () => {
      proxy = await startTcpProxy(POSTGRES_URL);
    });
    afterEach(() => proxy.close());

    it('rejects with StoreUnavailableError while connections are refused, then recovers by itself', async () => {
      await expectRefusedConnectionsToFailThenRecover(storeAt(proxy.url), proxy);
    });

    it('fails every call within commandTimeoutMs while established connections stall, and reuses none of them', async () => {
      await expectStalledStatementsToFailWithinDeadline(storeAt(proxy.url), proxy);
    });

    it('fails within connectTimeoutMs when the server never answers, then migrates and works once it does', async () => {
      proxy.stall();
      const store = storeAt(proxy.url);
      const org = organization();

      await expect(
        within(CONNECT_TIMEOUT_MS + MARGIN_MS, store.getOrganization(org.orgId)),
      ).rejects.toBeInstanceOf(StoreUnavailableError);

      proxy.restore();
      await eventually(RECOVERY_MS, () =>
        store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId)),
      );
      expect(await store.getOrganization(org.orgId)).toEqual(org);
    });

    it('a connection lost in the middle of createOrganization leaves neither the organization nor its key', async () => {
      const tablePrefix = uniqueTablePrefix();
      const store = storeAt(proxy.url, tablePrefix);
      await store.migrate();
      const org = organization();
      const key = apiKey(org.orgId);

      // Hold the key table so the store's transaction stops after inserting the organization.
      const blocker = await admin.connect();
      // Destroyed rather than pooled, so a failing test cannot leave the lock held.
      onTestFinished(() => blocker.release(true));
      await blocker.query('begin');
      await blocker.query(`lock table ${tablePrefix}api_keys in access exclusive mode`);
      const pending = store.createOrganization(org, key, issuerRegistration(org.orgId));
      const [waiting] = await eventually(RECOVERY_MS, async () => {
        const { rows } = await admin.query<{ pid: number }>(
          `select pid from pg_stat_activity where wait_event_type = 'Lock' and query like $1`,
          [`%${tablePrefix}api_keys%`],
        );
        if (rows.length === 0) throw new Error('the store has not reached the key insert yet');
        return rows;
      });
      const outcome = pending.catch((error: unknown) => error);

      proxy.refuse();
      expect(await within(MARGIN_MS, outcome)).toBeInstanceOf(StoreUnavailableError);
      await blocker.query('commit');
      // The server notices the lost client when it next reads from it, and rolls the transaction back.
      await eventually(RECOVERY_MS, async () => {
        const { rowCount } = await admin.query('select 1 from pg_stat_activity where pid = $1', [
          waiting?.pid,
        ]);
        if (rowCount !== 0) throw new Error('the interrupted backend is still running');
      });

      const orgs = await admin.query(`select 1 from ${tablePrefix}organizations where org_id = $1`, [
        org.orgId,
      ]);
      const keys = await admin.query(`select 1 from ${tablePrefix}api_keys where key_id = $1`, [key.keyId]);
      expect([orgs.rowCount, keys.rowCount]).toEqual([0, 0]);
      proxy.restore();
      expect(
        await eventually(RECOVERY_MS, () =>
          store.createOrganization(org, key, issuerRegistration(org.orgId)),
        ),
      ).toBe('created');
    });
  });

  describe('sqlStore (PostgreSQL)', () => {
    it('migration 5 turns the issuer of each organization written before it into its first registration', async () => {
      const tablePrefix = uniqueTablePrefix();
      await storeAt(POSTGRES_URL, tablePrefix).migrate();
      const legacy = legacyOrganizations();
      for (const statement of undoIssuerRegistrationsMigration(tablePrefix)) await admin.query(statement);
      for (const org of Object.values(legacy)) await admin.query(legacyOrganizationInsert(tablePrefix, org));

      await expectLegacyOrganizationsUpgraded(storeAt(POSTGRES_URL, tablePrefix), legacy);
    });

    it("adopts a database the runner before Kysely's Migrator created, with two instances starting at once: nothing runs again, data stays, migration 7 applies", () =>
      expectLegacyDatabaseAdopted(database));

    it("waits for the migration lock of its table prefix (the name an earlier release's runner took), and for no other prefix's", () =>
      expectMigrationWaitsForItsPrefixLock(database));

    it('migrates while other clients create and drop tables in the same database', async () => {
      const churn = `${uniqueTablePrefix()}churn`;
      let isChurning = true;
      const churning = (async () => {
        while (isChurning) {
          await admin.query(`create table if not exists ${churn} (id integer)`);
          await admin.query(`drop table if exists ${churn}`);
        }
      })();
      try {
        for (let started = 0; started < 5; started++) await storeAt(POSTGRES_URL).migrate();
      } finally {
        isChurning = false;
        await churning;
      }
    });

    it('migrates once when several instances start at once, and migrate() is idempotent', async () => {
      const tablePrefix = uniqueTablePrefix();
      const stores = Array.from({ length: 4 }, () => storeAt(POSTGRES_URL, tablePrefix));

      await Promise.all(stores.map((store) => store.migrate()));
      await stores[0]?.migrate();

      const { rows } = await admin.query(`select name from ${tablePrefix}kysely_migration order by name`);
      expect(rows).toEqual(MIGRATION_NAMES.map((name) => ({ name })));
      const org = organization();
      expect(await stores[1]?.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId))).toBe(
        'created',
      );
      expect(await stores[2]?.getOrganization(org.orgId)).toEqual(org);
    });

    it("uses the host's pool and leaves it open on close()", async () => {
      const tablePrefix = uniqueTablePrefix();
      onTestFinished(async () => {
        await admin.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
      });
      const store = sqlStore({ dialect: 'postgres', pool: admin, tablePrefix });
      const org = organization();

      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      await store.close();

      expect((await admin.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect(await store.getOrganization(org.orgId)).toEqual(org);
    });
  });
}
