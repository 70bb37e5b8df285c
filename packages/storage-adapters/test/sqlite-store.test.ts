import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqlStore } from '@rialto-exchange/storage-adapters';
import Sqlite from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { apiKey, nowSeconds, organization, refreshToken } from '../src/conformance/fixtures.js';
import { uniqueTablePrefix } from './sql-tables.js';

function temporaryDatabase(): Sqlite.Database {
  const filename = join(tmpdir(), `rialto-sqlite-${uniqueTablePrefix()}.db`);
  const database = new Sqlite(filename);
  onTestFinished(async () => {
    database.close();
    await Promise.all(['', '-wal', '-shm'].map((suffix) => rm(`${filename}${suffix}`, { force: true })));
  });
  return database;
}

describe('sqlStore (SQLite)', () => {
  it('migration 2 derives the verification statuses of users written under version 1 from their flags', async () => {
    const database = temporaryDatabase();
    await sqlStore({ dialect: 'sqlite', database }).migrate();
    // Back to the version-1 schema, with users as version 1 wrote them.
    database.exec(`
      drop table rialto_webhook_subscriptions;
      drop table rialto_webhook_deliveries;
      alter table rialto_users drop column kyc_status;
      alter table rialto_users drop column accreditation_status;
      alter table rialto_users drop column role;
      alter table rialto_organizations drop column provisioning;
      alter table rialto_organizations drop column suspended_at;
      delete from rialto_migrations where version in (2, 3);
    `);
    const insert = database.prepare(
      `insert into rialto_users values (?, 'org', ?, ?, 0, ?, ?, ?, 1700000000, 1700000000)`,
    );
    const flags = { kyc: [1, 0, 0], accredited: [1, 1, 0], verified: [1, 0, 0] };
    for (const [index, userId] of ['both', 'submitted', 'none'].entries()) {
      insert.run(
        userId,
        `${userId}@example.com`,
        userId,
        flags.kyc[index],
        flags.accredited[index],
        flags.verified[index],
      );
    }

    const store = sqlStore({ dialect: 'sqlite', database });
    const statuses = async (userId: string) => {
      const user = (await store.getUser('org', userId)) ?? expect.unreachable();
      return [user.kycStatus, user.accreditationStatus];
    };

    expect(await statuses('both')).toEqual(['approved', 'verified']);
    expect(await statuses('submitted')).toEqual(['not_started', 'submitted']);
    expect(await statuses('none')).toEqual(['not_started', 'not_submitted']);
  });

  it('migration 3 makes every user written under version 2 a member, and every organization active and creating users', async () => {
    const database = temporaryDatabase();
    const org = organization();
    await sqlStore({ dialect: 'sqlite', database }).createOrganization(org, apiKey(org.orgId));
    database.exec(`
      alter table rialto_users drop column role;
      alter table rialto_organizations drop column provisioning;
      alter table rialto_organizations drop column suspended_at;
      delete from rialto_migrations where version = 3;
      insert into rialto_users values ('before-roles', 'org', 'a@example.com', 'a@example.com', 0, 0, 0, 0,
        1700000000, 1700000000, 'not_started', 'not_submitted');
    `);

    const store = sqlStore({ dialect: 'sqlite', database });

    expect((await store.getUser('org', 'before-roles'))?.role).toBe('member');
    expect(await store.getOrganization(org.orgId)).toEqual(org);
  });

  it("uses the host's database, under the table prefix, and leaves it open on close()", async () => {
    const database = temporaryDatabase();
    const store = sqlStore({ dialect: 'sqlite', database, tablePrefix: 'exchange_' });
    const org = organization();

    await store.createOrganization(org, apiKey(org.orgId));
    await store.close();

    expect(database.open).toBe(true);
    expect(database.prepare('select org_id from exchange_organizations').all()).toEqual([
      { org_id: org.orgId },
    ]);
  });

  it('creates no table before migrate() when autoMigrate is false', async () => {
    const database = temporaryDatabase();
    const store = sqlStore({ dialect: 'sqlite', database, autoMigrate: false });
    const tables = () =>
      database.prepare("select name from sqlite_master where type = 'table' order by name").all();

    await expect(store.getOrganization(organization().orgId)).rejects.toThrow(/no such table/);
    expect(tables()).toEqual([]);

    await store.migrate();
    expect(tables()).toContainEqual({ name: 'rialto_organizations' });
    expect(await store.getOrganization(organization().orgId)).toBeNull();
  });

  it('sweeps long-expired refresh tokens and old revocations whose family has no token left', async () => {
    const database = temporaryDatabase();
    const store = sqlStore({ dialect: 'sqlite', database });
    const twoDaysAgo = nowSeconds() - 2 * 86_400;
    const count = (table: string) =>
      (database.prepare(`select count(*) as count from rialto_${table}`).get() as { count: number }).count;
    await store.saveRefreshToken(refreshToken({ expiresAt: twoDaysAgo }));
    await store.revokeRefreshTokenFamily(refreshToken().familyId, twoDaysAgo);
    const stillRefused = refreshToken();
    await store.revokeRefreshTokenFamily(stillRefused.familyId, twoDaysAgo);
    await store.saveRefreshToken(stillRefused);

    for (let saved = 0; saved < 1_000; saved++) await store.saveRefreshToken(refreshToken());

    await expect.poll(() => [count('refresh_tokens'), count('revoked_token_families')]).toEqual([1_001, 1]);
    expect(await store.consumeRefreshToken(stillRefused.jti, nowSeconds())).toBeNull();
  });

  it('rejects invalid options with a TypeError naming the option', () => {
    expect(() => sqlStore({ dialect: 'sqlite', filename: 'x.db', tablePrefix: 'Bad-Prefix' })).toThrow(
      /`tablePrefix`/,
    );
    expect(() => sqlStore({ dialect: 'sqlite', filename: '' })).toThrow(/`filename`/);
    expect(() => sqlStore({ dialect: 'postgres', connectionString: '' })).toThrow(/`connectionString`/);
    expect(() => sqlStore({ dialect: 'oracle' } as never)).toThrow(/`dialect`/);
    expect(() => sqlStore({ dialect: 'sqlite', filename: 'x.db', connectTimeoutMs: -1 })).toThrow(
      /`connectTimeoutMs`/,
    );
  });
});
