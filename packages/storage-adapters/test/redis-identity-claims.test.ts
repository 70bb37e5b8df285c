import { randomUUID } from 'node:crypto';
import { createKeyv } from '@keyv/redis';
import type { FindOrCreateUserInput, Store } from '@rialto-exchange/core';
import { keyvStore, redisStore } from '@rialto-exchange/storage-adapters';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  apiKey,
  identity,
  issuerRegistration,
  organization,
  withAnotherNewUser,
} from '../src/conformance/fixtures.js';
import {
  CLUSTER_PROBE_URL,
  CLUSTER_ROOT_NODES,
  connectClusterAdmin,
  deleteClusterKeys,
  type RedisClusterAdmin,
} from './redis-cluster.js';
import { deleteKeys, type RedisAdminClient, uniqueKeyPrefix } from './redis-keys.js';
import { isServiceUp, REDIS_URL } from './services.js';

async function created(store: Store, input: FindOrCreateUserInput) {
  const result = await store.findOrCreateUser(input);
  if (result.outcome !== 'created') expect.unreachable(`expected a new user, got ${result.outcome}`);
  return result.user;
}

interface Backend {
  open(): Store;
  /** Forgets that the re-keying ran, as a store of the release before it never recorded it. */
  forgetRekeyed(): Promise<void>;
  /** Whether the re-keying recorded that it ran. */
  isRekeyed(): Promise<boolean>;
}

/**
 * The identities an `oid` registration stored before identities named their claim are found again
 * by (issuer, `oid`, value) after two instances migrate at once, a `sub` of the same value is
 * somebody else (no takeover), `sub` identities stay, and a repeated run changes nothing.
 */
async function expectOidIdentitiesRekeyed(backend: Backend): Promise<void> {
  const before = backend.open();
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
    identity(google.orgId, { iss: `${googleRegistration.issuer}/`, sub: 'g-1' }),
  );
  await backend.forgetRekeyed();
  await before.close();

  const [after, alsoStarting] = [backend.open(), backend.open()];
  onTestFinished(async () => {
    await after.close();
    await alsoStarting.close();
  });
  await Promise.all([after.migrate(), alsoStarting.migrate()]);
  const expectRekeyed = async () => {
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
    const googleAgain = identity(google.orgId, { iss: `${googleRegistration.issuer}/`, sub: 'g-1' });
    expect(await after.findOrCreateUser(withAnotherNewUser(googleAgain))).toEqual({
      outcome: 'existing',
      user: googleUser,
    });
  };
  await expectRekeyed();
  expect(await backend.isRekeyed()).toBe(true);

  // A second run finds nothing left to move.
  await backend.forgetRekeyed();
  const again = backend.open();
  onTestFinished(() => again.close());
  await again.migrate();
  expect(await backend.isRekeyed()).toBe(true);
  await expectRekeyed();
}

const STORE_OPTIONS = { connectTimeoutMs: 2_000, commandTimeoutMs: 2_000 };

describe.runIf(await isServiceUp('Redis', REDIS_URL))(
  'identities keyed by claim name: Redis and Keyv',
  () => {
    let admin: RedisAdminClient;
    beforeAll(async () => {
      admin = await createClient({ url: REDIS_URL }).connect();
    });
    afterAll(() => admin.close());

    it('redisStore (standalone) re-keys the oid identities stored before claim names on migrate, once', async () => {
      const keyPrefix = uniqueKeyPrefix();
      onTestFinished(() => deleteKeys(admin, keyPrefix));
      await expectOidIdentitiesRekeyed({
        open: () => redisStore({ url: REDIS_URL }, { keyPrefix, ...STORE_OPTIONS }),
        forgetRekeyed: async () => {
          await admin.del(`${keyPrefix}identity-claims`);
        },
        isRekeyed: async () => (await admin.get(`${keyPrefix}identity-claims`)) === '11',
      });
    });

    it('keyvStore re-keys them on migrate from its organization, user and identity lists, once', async () => {
      const namespace = `rialto-test-keyv-${randomUUID()}`;
      const keyvs: ReturnType<typeof createKeyv>[] = [];
      const open = () => {
        const keyv = createKeyv(REDIS_URL, { namespace, throwOnErrors: true });
        keyvs.push(keyv);
        return keyv;
      };
      const inspector = open();
      onTestFinished(async () => {
        await inspector.clear();
        for (const keyv of keyvs) await keyv.disconnect();
      });
      await expectOidIdentitiesRekeyed({
        open: () => keyvStore(open(), { sharedBetweenProcesses: true }),
        forgetRekeyed: async () => {
          await inspector.delete('identity-claims');
        },
        isRekeyed: async () => (await inspector.get('identity-claims')) === '11',
      });
    });
  },
);

// Start the cluster with `bash scripts/redis-cluster.sh` (CI does, from .ci/run).
describe.runIf(await isServiceUp('Redis Cluster', CLUSTER_PROBE_URL))(
  'identities keyed by claim name: Redis Cluster',
  () => {
    let admin: RedisClusterAdmin;
    beforeAll(async () => {
      admin = await connectClusterAdmin();
    });
    afterAll(() => admin.close());

    it('redisStore on a cluster re-keys them on migrate, per organization from org-index, once', async () => {
      const keyPrefix = uniqueKeyPrefix();
      onTestFinished(() => deleteClusterKeys(admin, keyPrefix));
      await expectOidIdentitiesRekeyed({
        open: () =>
          redisStore({ cluster: { rootNodes: CLUSTER_ROOT_NODES } }, { keyPrefix, ...STORE_OPTIONS }),
        forgetRekeyed: async () => {
          await admin.del(`${keyPrefix}identity-claims`);
        },
        isRekeyed: async () => (await admin.get(`${keyPrefix}identity-claims`)) === '11',
      });
    });
  },
);
