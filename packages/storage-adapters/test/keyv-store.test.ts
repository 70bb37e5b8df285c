import { randomUUID } from 'node:crypto';
import KeyvRedis, { createKeyv } from '@keyv/redis';
import { StoreUnavailableError } from '@rialto-exchange/core';
import { keyvStore } from '@rialto-exchange/storage-adapters';
import Keyv from 'keyv';
import { createClient } from 'redis';
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
  withAnotherNewUser,
} from '../src/conformance/fixtures.js';
import { eventually, within } from './deadline.js';
import { expectLegacyOrganizationsUpgraded, legacyOrganizations } from './legacy-issuer-data.js';
import type { RedisAdminClient } from './redis-keys.js';
import { isServiceUp, REDIS_URL } from './services.js';
import { startTcpProxy } from './tcp-proxy.js';

const TIMEOUT_MS = 500;
// Scheduling slack on a loaded 2-core machine; far below what a hanging call would take.
const MARGIN_MS = 1_000;
const RECOVERY_MS = 5_000;

if (await isServiceUp('Redis (for Keyv)', REDIS_URL)) {
  let admin: RedisAdminClient;
  beforeAll(async () => {
    admin = await createClient({ url: REDIS_URL }).connect();
  });
  afterAll(() => admin.close());

  function redisKeyv(url: string) {
    const namespace = `rialto-test-keyv-${randomUUID()}`;
    const keyv = createKeyv(url, { namespace, throwOnErrors: true });
    onTestFinished(async () => {
      await keyv.clear();
      await keyv.disconnect();
    });
    return { keyv, namespace };
  }

  describe('keyvStore', () => {
    it('organizations written before issuer registrations become their first registration on first touch', async () => {
      const { keyv } = redisKeyv(REDIS_URL);
      const legacy = legacyOrganizations();
      for (const org of Object.values(legacy)) {
        await keyv.set(`org:${org.orgId}`, org);
        await keyv.set(`issuer:${org.issuer}`, org.orgId);
      }

      await expectLegacyOrganizationsUpgraded(keyvStore(keyv, { sharedBetweenProcesses: false }), legacy);
      expect(await keyv.get(`issuer:${legacy.shared.issuer}`)).toBeUndefined();
    });

    it('refuses a Keyv instance or adapter that would report backend failures as missing keys', () => {
      const oneProcess = { sharedBetweenProcesses: false };
      expect(() => keyvStore(new Keyv(), oneProcess)).toThrow(/`throwOnErrors: true`/);
      const swallowingAdapter = new Keyv({ store: new KeyvRedis(REDIS_URL), throwOnErrors: true });
      expect(() => keyvStore(swallowingAdapter, oneProcess)).toThrow(/adapter with `throwOnErrors: true`/);
      expect(() => keyvStore(new Keyv({ throwOnErrors: true }), { ...oneProcess, timeoutMs: 0 })).toThrow(
        /`timeoutMs`/,
      );
    });

    it('refuses to be built without saying whether other processes share the backend', () => {
      expect(() => keyvStore(new Keyv({ throwOnErrors: true }), {} as never)).toThrow(
        new TypeError(
          'keyvStore: `sharedBetweenProcesses` is required: say whether other processes use this Keyv backend (writes are serialized within one process only)',
        ),
      );
    });

    it('shared between processes, refuses webhook subscriptions unless duplicate deliveries are accepted', async () => {
      const shared = keyvStore(redisKeyv(REDIS_URL).keyv, { sharedBetweenProcesses: true });
      const orgId = organization().orgId;
      await expect(shared.createWebhookSubscription(subscription(orgId))).rejects.toThrow(
        /acceptDuplicateWebhookDeliveries/,
      );
      expect(await shared.listWebhookSubscriptions(orgId)).toEqual([]);

      const accepting = keyvStore(redisKeyv(REDIS_URL).keyv, {
        sharedBetweenProcesses: true,
        acceptDuplicateWebhookDeliveries: true,
      });
      const record = subscription(orgId);
      await accepting.createWebhookSubscription(record);
      expect(await accepting.listWebhookSubscriptions(orgId)).toEqual([record]);
    });

    it('1,000 concurrent first exchanges of one identity in one process make one user', async () => {
      const store = keyvStore(redisKeyv(REDIS_URL).keyv, { sharedBetweenProcesses: false });
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      const person = identity(org.orgId);

      const results = await Promise.all(
        Array.from({ length: 1_000 }, () => store.findOrCreateUser(withAnotherNewUser(person))),
      );

      expect(new Set(results.map((result) => 'user' in result && result.user.userId)).size).toBe(1);
      expect(results.filter((result) => result.outcome === 'created')).toHaveLength(1);
    });

    it("under linking policy 'never', 200 concurrent subs with one email: one user, 199 conflicts", async () => {
      const store = keyvStore(redisKeyv(REDIS_URL).keyv, { sharedBetweenProcesses: false });
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          store.findOrCreateUser(identity(org.orgId, { mayLinkByEmail: false })),
        ),
      );

      expect(results.filter((result) => result.outcome === 'created')).toHaveLength(1);
      expect(results.filter((result) => result.outcome === 'conflict')).toHaveLength(199);
    });

    it('60 events recorded at once are all due and all listed', async () => {
      const store = keyvStore(redisKeyv(REDIS_URL).keyv, { sharedBetweenProcesses: false });
      const orgId = organization().orgId;
      const target = subscription(orgId, { eventTypes: ['*'] });
      await store.createWebhookSubscription(target);

      await Promise.all(
        Array.from({ length: 60 }, () => store.enqueueWebhookEvents([webhookEvent(orgId, 'user.created')])),
      );

      const claimed = await store.claimWebhookDeliveries({
        now: nowSeconds(),
        limit: 100,
        leaseSeconds: 30,
        leaseToken: randomUUID(),
      });
      expect(claimed).toHaveLength(60);
      expect(await store.listWebhookDeliveries(orgId, target.subscriptionId, 100)).toHaveLength(60);
    });

    it('remembers a family revocation until the longest-lived token of the family has expired', async () => {
      const { keyv, namespace } = redisKeyv(REDIS_URL);
      const store = keyvStore(keyv, { sharedBetweenProcesses: false });
      const longLived = refreshToken({ expiresAt: nowSeconds() + 3 * 86_400 });
      await store.saveRefreshToken(longLived);

      await store.revokeRefreshTokenFamily(longLived.familyId, nowSeconds());

      const [marker] = await admin.keys(`${namespace}::family-revoked:*`);
      expect(await admin.ttl(marker ?? expect.unreachable())).toBeGreaterThanOrEqual(3 * 86_400);
      const successor = successorOf(longLived);
      expect(
        await store.rotateRefreshToken({
          jti: longLived.jti,
          successor,
          now: nowSeconds(),
          graceSeconds: 10,
        }),
      ).toEqual({ outcome: 'unknown' });
    });

    it('rejects with StoreUnavailableError within timeoutMs while the backend does not answer', async () => {
      const proxy = await startTcpProxy(REDIS_URL);
      const keyv = createKeyv(proxy.url, {
        namespace: `rialto-test-keyv-${randomUUID()}`,
        throwOnErrors: true,
      });
      onTestFinished(async () => {
        proxy.restore();
        await keyv.clear();
        await keyv.disconnect();
        await proxy.close();
      });
      const store = keyvStore(keyv, { sharedBetweenProcesses: false, timeoutMs: TIMEOUT_MS });
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      proxy.stall();

      await expect(within(TIMEOUT_MS + MARGIN_MS, store.getOrganization(org.orgId))).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      // Later calls fail at once instead of each waiting out the timeout.
      const started = Date.now();
      await expect(store.getOrganization(org.orgId)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS / 2);

      proxy.restore();
      expect(await eventually(RECOVERY_MS, () => store.getOrganization(org.orgId))).toEqual(org);
    });
  });
}
