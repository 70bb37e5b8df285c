import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqlStore } from '@rialto-exchange/storage-adapters';
import Sqlite from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  apiKey,
  issuerRegistration,
  nowSeconds,
  organization,
  refreshToken,
  successorOf,
} from '../src/conformance/fixtures.js';
import {
  expectLegacyOrganizationsUpgraded,
  legacyOrganizationInsert,
  legacyOrganizations,
  undoIssuerRegistrationsMigration,
} from './legacy-issuer-data.js';
import {
  expectAdoptedAtVersion6,
  legacyRunnerAtVersion6,
  undoLinkScopesMigration,
} from './legacy-migration-runner.js';
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
  it("creates the database file's missing parent directories on first use", async () => {
    const directory = join(tmpdir(), `rialto-sqlite-${uniqueTablePrefix()}`);
    onTestFinished(() => rm(directory, { recursive: true, force: true }));
    const store = sqlStore({ dialect: 'sqlite', filename: join(directory, 'nested', 'rialto.db') });
    onTestFinished(() => store.close());
    const org = organization();

    expect(await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId))).toBe(
      'created',
    );
    expect(await store.getOrganization(org.orgId)).toEqual(org);
  });

  it("adopts a database the runner before Kysely's Migrator created: nothing runs again, data stays, migration 7 applies", async () => {
    const database = temporaryDatabase();
    const org = organization();
    const registration = issuerRegistration(org.orgId);
    const before = sqlStore({ dialect: 'sqlite', database, tablePrefix: 'exchange_' });
    await before.createOrganization(org, apiKey(org.orgId), registration);
    for (const statement of legacyRunnerAtVersion6('exchange_')) database.exec(statement);

    const store = sqlStore({ dialect: 'sqlite', database, tablePrefix: 'exchange_' });
    await store.migrate();

    expectAdoptedAtVersion6(
      database.prepare('select name, timestamp from exchange_kysely_migration').all() as {
        name: string;
        timestamp: string;
      }[],
    );
    expect(await store.getOrganization(org.orgId)).toEqual(org);
    expect(await store.listIssuerRegistrations(org.orgId)).toEqual([registration]);
    const hit = { key: `org:${org.orgId}`, intervalMs: 1_000, toleranceMs: 1_000, nowMs: Date.now() };
    expect((await store.hitRateLimit?.(hit))?.allowed).toBe(true);
    expect((await store.hitRateLimit?.(hit))?.allowed).toBe(false);
  });

  it('migration 2 derives the verification statuses of users written under version 1 from their flags', async () => {
    const database = temporaryDatabase();
    await sqlStore({ dialect: 'sqlite', database }).migrate();
    // Back to the version-1 schema, with users as version 1 wrote them.
    for (const statement of undoLinkScopesMigration('rialto_')) database.exec(statement);
    database.exec(`
      drop table rialto_webhook_subscriptions;
      drop table rialto_webhook_deliveries;
      alter table rialto_users drop column kyc_status;
      alter table rialto_users drop column accreditation_status;
      alter table rialto_users drop column role;
      alter table rialto_organizations drop column provisioning;
      alter table rialto_organizations drop column suspended_at;
      delete from rialto_kysely_migration where name in ('0002_verification_statuses_and_webhooks', '0006_roles_and_provisioning');
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

  it('migration 5 turns the issuer of each organization written before it into its first registration', async () => {
    const database = temporaryDatabase();
    await sqlStore({ dialect: 'sqlite', database }).migrate();
    const legacy = legacyOrganizations();
    for (const statement of undoIssuerRegistrationsMigration('rialto_')) database.exec(statement);
    for (const org of Object.values(legacy)) database.exec(legacyOrganizationInsert('rialto_', org));

    await expectLegacyOrganizationsUpgraded(sqlStore({ dialect: 'sqlite', database }), legacy);
  });

  it('migration 6 makes every user written before it a member, and every organization active and creating users', async () => {
    const database = temporaryDatabase();
    const org = organization();
    await sqlStore({ dialect: 'sqlite', database }).createOrganization(
      org,
      apiKey(org.orgId),
      issuerRegistration(org.orgId),
    );
    for (const statement of undoLinkScopesMigration('rialto_')) database.exec(statement);
    database.exec(`
      alter table rialto_users drop column role;
      alter table rialto_organizations drop column provisioning;
      alter table rialto_organizations drop column suspended_at;
      delete from rialto_kysely_migration where name = '0006_roles_and_provisioning';
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

    await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
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

  it('migration 4 keeps refresh tokens saved under version 3 live: they rotate, and a retry gets the same successor', async () => {
    const database = temporaryDatabase();
    await sqlStore({ dialect: 'sqlite', database }).migrate();
    // Back to the version-3 schema, with a token as versions 2 and 3 wrote it.
    database.exec(`
      drop index rialto_refresh_tokens_parent_idx;
      alter table rialto_refresh_tokens drop column parent_jti;
      alter table rialto_refresh_tokens drop column kid;
      alter table rialto_refresh_tokens drop column issued_at;
      delete from rialto_kysely_migration where name = '0004_refresh_token_rotation';
    `);
    const token = refreshToken();
    database
      .prepare('insert into rialto_refresh_tokens values (?, ?, ?, ?, ?)')
      .run(token.jti, token.familyId, token.orgId, token.userId, token.expiresAt);

    const store = sqlStore({ dialect: 'sqlite', database });
    const input = { jti: token.jti, successor: successorOf(token), now: nowSeconds(), graceSeconds: 10 };
    expect(await store.rotateRefreshToken(input)).toEqual({ outcome: 'rotated', successor: input.successor });
    expect(await store.rotateRefreshToken(input)).toEqual({ outcome: 'retried', successor: input.successor });
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
    expect(
      await store.rotateRefreshToken({
        jti: stillRefused.jti,
        successor: successorOf(stillRefused),
        now: nowSeconds(),
        graceSeconds: 10,
      }),
    ).toEqual({ outcome: 'unknown' });
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
