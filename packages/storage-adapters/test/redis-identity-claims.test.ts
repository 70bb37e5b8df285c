import type { FindOrCreateUserInput, Store } from '@rialto-exchange/core';
import { redisStore } from '@rialto-exchange/storage-adapters';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  apiKey,
  identity,
  issuerRegistration,
  organization,
  withAnotherNewUser,
} from '../src/conformance/fixtures.js';
import { deleteKeys, type RedisAdminClient, uniqueKeyPrefix } from './redis-keys.js';
import { isServiceUp, REDIS_URL } from './services.js';

async function created(store: Store, input: FindOrCreateUserInput) {
  const result = await store.findOrCreateUser(input);
  if (result.outcome !== 'created') expect.unreachable(`expected a new user, got ${result.outcome}`);
  return result.user;
}

describe.runIf(await isServiceUp('Redis', REDIS_URL))('redisStore: identities keyed by claim name', () => {
  let admin: RedisAdminClient;
  beforeAll(async () => {
    admin = await createClient({ url: REDIS_URL }).connect();
  });
  afterAll(() => admin.close());

  it('re-keys the oid identities stored before claim names on migrate, keeps sub ones, once', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const open = () =>
      redisStore({ url: REDIS_URL }, { keyPrefix, connectTimeoutMs: 2_000, commandTimeoutMs: 2_000 });
    onTestFinished(() => deleteKeys(admin, keyPrefix));
    const before = open();
    const entra = organization();
    const entraRegistration = issuerRegistration(entra.orgId, { subjectClaim: 'oid' });
    await before.createOrganization(entra, apiKey(entra.orgId), entraRegistration);
    const google = organization();
    const googleRegistration = issuerRegistration(google.orgId);
    await before.createOrganization(google, apiKey(google.orgId), googleRegistration);
    // As the release before this one stored them: no claim name in any identity's field.
    const oidValue = 'b3f0c1e2-0000-4000-8000-00000000a11c';
    const entraUser = await created(
      before,
      identity(entra.orgId, { iss: entraRegistration.issuer, sub: oidValue }),
    );
    const googleUser = await created(
      before,
      identity(google.orgId, { iss: googleRegistration.issuer, sub: 'g-1' }),
    );
    await admin.del(`${keyPrefix}identity-claims`);
    await before.close();

    const after = open();
    onTestFinished(() => after.close());
    await after.migrate();
    expect(await admin.get(`${keyPrefix}identity-claims`)).toBe('11');
    const entraAgain = identity(entra.orgId, {
      iss: entraRegistration.issuer,
      sub: oidValue,
      subjectClaim: 'oid',
    });
    expect(await after.findOrCreateUser(withAnotherNewUser(entraAgain))).toEqual({
      outcome: 'existing',
      user: entraUser,
    });
    const bySub = identity(entra.orgId, {
      iss: entraRegistration.issuer,
      sub: oidValue,
      email: 'mallory@example.com',
      mayCreate: false,
    });
    expect((await after.findOrCreateUser(bySub)).outcome).toBe('not_provisioned');
    const googleAgain = identity(google.orgId, { iss: googleRegistration.issuer, sub: 'g-1' });
    expect(await after.findOrCreateUser(withAnotherNewUser(googleAgain))).toEqual({
      outcome: 'existing',
      user: googleUser,
    });
  });
});
