import { randomUUID } from 'node:crypto';
import KeyvRedis, { createKeyv } from '@keyv/redis';
import { StoreUnavailableError } from '@rialto-exchange/core';
import { keyvStore } from '@rialto-exchange/storage-adapters';
import Keyv from 'keyv';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  apiKey,
  issuerRegistration,
  nowSeconds,
  organization,
  refreshToken,
} from '../src/conformance/fixtures.js';
import { within } from './deadline.js';
import { expectLegacyOrganizationsUpgraded, legacyOrganizations } from './legacy-issuer-data.js';
import type { RedisAdminClient } from './redis-keys.js';
import { isServiceUp, REDIS_URL } from './services.js';
import { startTcpProxy } from './tcp-proxy.js';

const TIMEOUT_MS = 500;
// Scheduling slack on a loaded 2-core machine; far below what a hanging call would take.
const MARGIN_MS = 1_000;

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

      await expectLegacyOrganizationsUpgraded(keyvStore(keyv), legacy);
      expect(await keyv.get(`issuer:${legacy.shared.issuer}`)).toBeUndefined();
    });

    it('refuses a Keyv instance or adapter that would report backend failures as missing keys', () => {
      expect(() => keyvStore(new Keyv())).toThrow(/`throwOnErrors: true`/);
      const swallowingAdapter = new Keyv({ store: new KeyvRedis(REDIS_URL), throwOnErrors: true });
      expect(() => keyvStore(swallowingAdapter)).toThrow(/adapter with `throwOnErrors: true`/);
      expect(() => keyvStore(new Keyv({ throwOnErrors: true }), { timeoutMs: 0 })).toThrow(/`timeoutMs`/);
    });

    it('remembers a family revocation until the longest-lived token of the family has expired', async () => {
      const { keyv, namespace } = redisKeyv(REDIS_URL);
      const store = keyvStore(keyv);
      const longLived = refreshToken({ expiresAt: nowSeconds() + 3 * 86_400 });
      await store.saveRefreshToken(longLived);

      await store.revokeRefreshTokenFamily(longLived.familyId, nowSeconds());

      const [marker] = await admin.keys(`${namespace}::family-revoked:*`);
      expect(await admin.ttl(marker ?? expect.unreachable())).toBeGreaterThanOrEqual(3 * 86_400);
      expect(await store.consumeRefreshToken(longLived.jti, nowSeconds())).toBeNull();
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
      const store = keyvStore(keyv, { timeoutMs: TIMEOUT_MS });
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      proxy.stall();

      await expect(within(TIMEOUT_MS + MARGIN_MS, store.getOrganization(org.orgId))).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    });
  });
}
