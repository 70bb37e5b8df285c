import { randomUUID } from 'node:crypto';
import { redisStore, storeFromUrl } from '@rialto-exchange/storage-adapters';
import calculateSlot from 'cluster-key-slot';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  apiKey,
  identity,
  issuerRegistration,
  nowSeconds,
  organization,
  refreshToken,
  subscription,
  successorOf,
  webhookEvent,
} from '../src/conformance/fixtures.js';
import {
  CLUSTER_PROBE_URL,
  CLUSTER_ROOT_NODES,
  connectClusterAdmin,
  deleteClusterKeys,
  holdersOf,
  type RedisClusterAdmin,
} from './redis-cluster.js';
import {
  expectDeleteRacingClaimReleasesIssuer,
  expectInterruptedCreateRetried,
  expectLiveClaimsSurviveCleanup,
  expectRaceLeftoversReleased,
  type RawRedis,
} from './redis-issuer-leftovers.js';
import { uniqueKeyPrefix } from './redis-keys.js';
import { isServiceUp, REDIS_CLUSTER_URL } from './services.js';

// Start the cluster with `bash scripts/redis-cluster.sh` (CI does, from .ci/run).
if (await isServiceUp('Redis Cluster', CLUSTER_PROBE_URL)) {
  let admin: RedisClusterAdmin;
  beforeAll(async () => {
    admin = await connectClusterAdmin();
  });
  afterAll(() => admin.close());

  function clusterStore() {
    const keyPrefix = uniqueKeyPrefix();
    const store = redisStore({ cluster: { rootNodes: CLUSTER_ROOT_NODES } }, { keyPrefix });
    onTestFinished(async () => {
      await store.close();
      await deleteClusterKeys(admin, keyPrefix);
    });
    return { store, keyPrefix };
  }

  /** The primary a slot belongs to, as the cluster's own slot map says. */
  const masterOf = (key: string) => {
    const node = admin.getSlotRandomNode(calculateSlot(key));
    return `${node.host}:${node.port}`;
  };

  /** An org id whose keys live on a different primary than `others`' keys. */
  function orgIdAwayFrom(keyPrefix: string, ...others: string[]): string {
    const taken = new Set(others.map((orgId) => masterOf(`${keyPrefix}{o:${orgId}}:org`)));
    for (;;) {
      const orgId = randomUUID();
      if (!taken.has(masterOf(`${keyPrefix}{o:${orgId}}:org`))) return orgId;
    }
  }

  describe('redisStore on a Redis Cluster', () => {
    it('keeps each organization whole on one node while different organizations live on different nodes', async () => {
      const { store, keyPrefix } = clusterStore();
      const first = organization();
      const second = organization({ orgId: orgIdAwayFrom(keyPrefix, first.orgId) });
      for (const org of [first, second]) {
        expect(
          await store.createOrganization(
            org,
            apiKey(org.orgId),
            // Both on one issuer: the issuer's index is a key of its own, on a third slot.
            issuerRegistration(org.orgId, {
              issuer: `https://shared-${keyPrefix}.example.com`,
              clientIds: [org.orgId],
            }),
          ),
        ).toBe('created');
        await store.createWebhookSubscription(subscription(org.orgId));
        const created = await store.findOrCreateUser({
          ...identity(org.orgId),
          eventsIfCreated: [webhookEvent(org.orgId, 'user.created')],
        });
        expect(created.outcome).toBe('created');
      }

      const homes = await Promise.all(
        [first, second].map(async (org) => {
          const holders = await Promise.all(
            [
              'org',
              'api-keys',
              'registrations',
              'users',
              'identities',
              'webhook-subs',
              'webhook-deliveries',
            ].map((kind) => holdersOf(admin, `${keyPrefix}{o:${org.orgId}}:${kind}`)),
          );
          // Every key of the org exists, on exactly one and the same primary.
          expect(new Set(holders.map((found) => found.join()))).toEqual(new Set([holders[0]?.join()]));
          expect(holders[0]).toHaveLength(1);
          return holders[0]?.[0];
        }),
      );
      expect(homes[0]).not.toBe(homes[1]);
      expect(
        (await store.findIssuerRegistrations(`https://shared-${keyPrefix}.example.com`))
          .map((r) => r.orgId)
          .sort(),
      ).toEqual([first.orgId, second.orgId].sort());
      const now = nowSeconds();
      const claimed = await store.claimWebhookDeliveries({
        now,
        limit: 10,
        leaseSeconds: 60,
        leaseToken: 'lease',
      });
      expect(claimed.map((delivery) => delivery.orgId).sort()).toEqual([first.orgId, second.orgId].sort());
    });

    it('deletes an organization with everything it holds in one slot, and its global index entries', async () => {
      const { store, keyPrefix } = clusterStore();
      const org = organization();
      const registration = issuerRegistration(org.orgId);
      await store.createOrganization(org, apiKey(org.orgId), registration);
      const webhook = subscription(org.orgId);
      await store.createWebhookSubscription(webhook);
      // A subscription deleted before the org: its delivery list must not outlive either.
      const deletedFirst = subscription(org.orgId);
      await store.createWebhookSubscription(deletedFirst);
      const login = identity(org.orgId);
      const created = await store.findOrCreateUser({
        ...login,
        eventsIfCreated: [webhookEvent(org.orgId, 'user.created')],
      });
      if (created.outcome !== 'created') throw new Error(`expected a new user, got ${created.outcome}`);
      expect(await store.listWebhookDeliveries(org.orgId, webhook.subscriptionId, 10)).toHaveLength(1);
      expect(await store.listWebhookDeliveries(org.orgId, deletedFirst.subscriptionId, 10)).toHaveLength(1);
      expect(await store.deleteWebhookSubscription(org.orgId, deletedFirst.subscriptionId)).toBe(true);

      expect(await store.deleteOrganization(org.orgId)).toBe(true);

      expect(await store.getOrganization(org.orgId)).toBeNull();
      expect(await store.getUserById(created.user.userId)).toBeNull();
      expect(await store.findIssuerRegistrations(registration.issuer)).toEqual([]);
      const left: string[] = [];
      for (const master of admin.masters) {
        const node = await admin.nodeClient(master);
        for await (const keys of node.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 }))
          left.push(...keys);
      }
      // Only the global set of orgs with due deliveries, without this org, and the store-wide record
      // that identities were re-keyed by claim name may remain.
      const global = [`${keyPrefix}webhook-due-orgs`, `${keyPrefix}identity-claims`];
      expect(left.filter((name) => !global.includes(name))).toEqual([]);
      expect(await admin.zScore(`${keyPrefix}webhook-due-orgs`, org.orgId)).toBeNull();
    });

    describe('issuer index entries left by a crash or a claim racing deleteOrganization', () => {
      // The issuer's index and each org's copies live in different slots, checked across nodes.
      const raw = (): RawRedis => ({
        hSet: (key, field, value) => admin.hSet(key, field, value),
        hDel: (key, field) => admin.hDel(key, field),
        hVals: (key) => admin.hVals(key),
        exists: (key) => admin.exists(key),
      });

      it('read as absent and free their issuer and client ids for another org, leaving live entries', async () => {
        await expectRaceLeftoversReleased({ ...clusterStore(), raw: raw() });
      });

      it('let a createOrganization interrupted before its claim be retried with the same issuer', async () => {
        await expectInterruptedCreateRetried({ ...clusterStore(), raw: raw() });
      });

      it('are dropped by concurrent claimers without ever removing a claim that succeeded', async () => {
        await expectLiveClaimsSurviveCleanup({ ...clusterStore(), raw: raw() });
      });

      it('never keep an issuer taken after deleteOrganization raced addIssuerRegistration', async () => {
        await expectDeleteRacingClaimReleasesIssuer({ ...clusterStore(), raw: raw() });
      });
    });

    it('saves refresh tokens of many families in one batch, split by slot, and rotates each', async () => {
      const { store } = clusterStore();
      const tokens = Array.from({ length: 30 }, () => refreshToken());
      const slots = new Set(
        tokens.map((token) => admin.getSlotRandomNode(calculateSlot(`{f:${token.familyId}}`)).port),
      );
      expect(slots.size).toBeGreaterThan(1);

      await Promise.all(tokens.map((token) => store.saveRefreshToken(token)));

      const now = nowSeconds();
      for (const token of tokens) {
        const successor = successorOf(token, now);
        expect(await store.rotateRefreshToken({ jti: token.jti, successor, now, graceSeconds: 0 })).toEqual({
          outcome: 'rotated',
          successor,
        });
      }
    });

    it("uses the host's cluster client and leaves it open on close()", async () => {
      const clusterClient = await createCluster({
        rootNodes: CLUSTER_ROOT_NODES.map((url) => ({ url })),
      }).connect();
      onTestFinished(() => clusterClient.close());
      const keyPrefix = uniqueKeyPrefix();
      onTestFinished(() => deleteClusterKeys(admin, keyPrefix));
      const store = redisStore({ clusterClient }, { keyPrefix });
      const org = organization();

      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      await store.close();

      expect(await store.getOrganization(org.orgId)).toEqual(org);
      expect(await clusterClient.ping()).toBe('PONG');
    });

    it('opens from a redis+cluster:// URL with storeFromUrl', async () => {
      const keyPrefix = uniqueKeyPrefix();
      const store = storeFromUrl(REDIS_CLUSTER_URL, { keyPrefix });
      onTestFinished(async () => {
        await store.close();
        await deleteClusterKeys(admin, keyPrefix);
      });
      const org = organization();

      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      expect(await admin.exists(`${keyPrefix}{o:${org.orgId}}:org`)).toBe(1);
    });

    it('rejects a key prefix with braces, which would put every key in one slot, and bad cluster URLs without echoing them', () => {
      expect(() =>
        redisStore({ cluster: { rootNodes: CLUSTER_ROOT_NODES } }, { keyPrefix: 'app{1}:' }),
      ).toThrow(/`keyPrefix` must not contain \{ or \}/);
      expect(() => redisStore({ cluster: { rootNodes: [] } })).toThrow(/`cluster.rootNodes`/);
      expect(() => redisStore({ clusterClient: {} as never })).toThrow(/`clusterClient`/);
      for (const url of [
        'redis+cluster://',
        'redis+cluster://user:hunter2@/x',
        'redis+cluster://user:hunter2@h:1/0',
      ]) {
        expect(() => storeFromUrl(url)).toThrow(TypeError);
        try {
          storeFromUrl(url);
        } catch (error) {
          expect(String(error)).not.toContain('hunter2');
        }
      }
    });
  });
}
