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
