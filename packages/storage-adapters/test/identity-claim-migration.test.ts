import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@rialto-exchange/core';
import { type SqlStore, sqlStore } from '@rialto-exchange/storage-adapters';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  apiKey,
  identity,
  issuerRegistration,
  organization,
  withAnotherNewUser,
} from '../src/conformance/fixtures.js';
import { forgetMigration } from './legacy-migration-runner.js';
import { isServiceUp, POSTGRES_URL } from './services.js';
import { tablesOf, uniqueTablePrefix } from './sql-tables.js';

/**
 * Migration 11 re-keys the identities an issuer registration made under a claim other than `sub`
 * (as `oid`) before identities were keyed by claim name: their users are found again under that
 * claim, and a `sub` of the same value is somebody else. `sub` identities keep their key.
 */
async function expectIdentitiesRekeyed(
  open: () => SqlStore,
  forget: (statement: string) => Promise<void>,
  tablePrefix: string,
): Promise<void> {
  const before = open();
  const entra = organization();
  const entraRegistration = issuerRegistration(entra.orgId, { subjectClaim: 'oid' });
  await before.createOrganization(entra, apiKey(entra.orgId), entraRegistration);
  const google = organization();
  const googleRegistration = issuerRegistration(google.orgId);
  await before.createOrganization(google, apiKey(google.orgId), googleRegistration);
  // As the release before this one stored them: no claim name in any identity's key.
  const oidValue = 'b3f0c1e2-0000-4000-8000-00000000a11c';
  const entraUser = await created(
    before,
    identity(entra.orgId, { iss: entraRegistration.issuer, sub: oidValue }),
  );
  const googleUser = await created(
    before,
    identity(google.orgId, { iss: `${googleRegistration.issuer}/`, sub: 'google-123' }),
  );
  await forget(forgetMigration(tablePrefix, 11));
  await before.close();

  const after = open();
  await after.migrate();
  const entraAgain = identity(entra.orgId, {
    iss: entraRegistration.issuer,
    sub: oidValue,
    subjectClaim: 'oid',
  });
  expect(await after.findOrCreateUser(withAnotherNewUser(entraAgain))).toEqual({
    outcome: 'existing',
    user: entraUser,
  });
  expect(
    (
      await after.findOrCreateUser(
        identity(entra.orgId, {
          iss: entraRegistration.issuer,
          sub: oidValue,
          subjectClaim: 'sub',
          email: 'mallory@example.com',
          mayCreate: false,
        }),
      )
    ).outcome,
  ).toBe('not_provisioned');
  const googleAgain = identity(google.orgId, { iss: `${googleRegistration.issuer}/`, sub: 'google-123' });
  expect(await after.findOrCreateUser(withAnotherNewUser(googleAgain))).toEqual({
    outcome: 'existing',
    user: googleUser,
  });
  // A second run finds nothing left to move.
  await forget(forgetMigration(tablePrefix, 11));
  await after.close();
  const again = open();
  await again.migrate();
  expect(await again.findOrCreateUser(withAnotherNewUser(entraAgain))).toEqual({
    outcome: 'existing',
    user: entraUser,
  });
  await again.close();
}

async function created(store: Store, input: Parameters<Store['findOrCreateUser']>[0]) {
  const result = await store.findOrCreateUser(input);
  if (result.outcome !== 'created') expect.unreachable(`expected a new user, got ${result.outcome}`);
  return result.user;
}

const isPostgresUp = await isServiceUp('PostgreSQL', POSTGRES_URL);

describe('SQL migration 11: identities keyed by claim name', () => {
  it('SQLite: re-keys oid identities, leaves sub identities, and is idempotent', async () => {
    const filename = join(tmpdir(), `rialto-sqlite-${uniqueTablePrefix()}.db`);
    const database = new Sqlite(filename);
    onTestFinished(async () => {
      database.close();
      await Promise.all(['', '-wal', '-shm'].map((suffix) => rm(`${filename}${suffix}`, { force: true })));
    });
    await expectIdentitiesRekeyed(
      () => sqlStore({ dialect: 'sqlite', database, tablePrefix: 'claims_' }),
      async (statement) => {
        database.exec(statement);
      },
      'claims_',
    );
  });

  it.runIf(isPostgresUp)(
    'PostgreSQL: re-keys oid identities, leaves sub identities, and is idempotent',
    async () => {
      const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
      const tablePrefix = uniqueTablePrefix();
      onTestFinished(async () => {
        await admin.query(`drop table if exists ${tablesOf(tablePrefix).join(', ')}`);
        await admin.end();
      });
      await expectIdentitiesRekeyed(
        () => sqlStore({ dialect: 'postgres', connectionString: POSTGRES_URL, tablePrefix }),
        async (statement) => {
          await admin.query(statement);
        },
        tablePrefix,
      );
    },
  );
});
