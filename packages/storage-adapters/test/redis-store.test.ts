import { StoreUnavailableError } from '@rialto-exchange/core';
import { type RedisStore, redisStore } from '@rialto-exchange/storage-adapters';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import {
  apiKey,
  issuerRegistration,
  nowSeconds,
  organization,
  refreshToken,
  successorOf,
} from '../src/conformance/fixtures.js';
import { eventually, within } from './deadline.js';
import { expectLegacyOrganizationsUpgraded, legacyOrganizations } from './legacy-issuer-data.js';
import { deleteKeys, type RedisAdminClient, uniqueKeyPrefix } from './redis-keys.js';
import { isServiceUp, REDIS_URL } from './services.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const TIMEOUT_MS = 500;
// Scheduling slack on a loaded 2-core machine; far below what a queued or hanging call would take.
const MARGIN_MS = 1_000;
// The reconnect backoff is capped at 2 s, so a restored Redis is picked up well within this.
const RECOVERY_MS = 5_000;

if (await isServiceUp('Redis', REDIS_URL)) {
  let admin: RedisAdminClient;
  beforeAll(async () => {
    admin = await createClient({ url: REDIS_URL }).connect();
  });
  afterAll(() => admin.close());

  function storeAt(url: string, commandTimeoutMs = TIMEOUT_MS): { store: RedisStore; keyPrefix: string } {
    const keyPrefix = uniqueKeyPrefix();
    const store = redisStore({ url }, { keyPrefix, connectTimeoutMs: TIMEOUT_MS, commandTimeoutMs });
    onTestFinished(async () => {
      await store.close();
      await deleteKeys(admin, keyPrefix);
    });
    return { store, keyPrefix };
  }

  describe('redisStore when the network fails', () => {
    let proxy: TcpProxy;
    beforeEach(async () => {
      proxy = await startTcpProxy(REDIS_URL);
    });
    afterEach(() => proxy.close());

    it('rejects with StoreUnavailableError at once while connections are refused, then recovers by itself', async () => {
      // A command timeout far beyond the deadline: only refusing offline commands can pass in time.
      const { store } = storeAt(proxy.url, 30_000);
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      proxy.refuse();
      const during = organization();
      await expect(
        within(
          MARGIN_MS,
          store.createOrganization(during, apiKey(during.orgId), issuerRegistration(during.orgId)),
        ),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(within(MARGIN_MS, store.getOrganization(org.orgId))).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );

      proxy.restore();
      expect(await eventually(RECOVERY_MS, () => store.getOrganization(org.orgId))).toEqual(org);
      expect(await store.getOrganization(during.orgId)).toBeNull();
      expect(await store.listActiveApiKeys(during.orgId)).toEqual([]);
    });

    it('rejects with StoreUnavailableError within commandTimeoutMs when the network stalls, leaving all or nothing written', async () => {
      const { store } = storeAt(proxy.url);
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      proxy.stall();
      const during = organization();
      const duringKey = apiKey(during.orgId);
      await expect(
        within(
          TIMEOUT_MS + MARGIN_MS,
          store.createOrganization(during, duringKey, issuerRegistration(during.orgId)),
        ),
      ).rejects.toBeInstanceOf(StoreUnavailableError);

      proxy.restore();
      expect(await eventually(RECOVERY_MS, () => store.getOrganization(org.orgId))).toEqual(org);
      // The stalled script may still have reached Redis once the network came back, but only whole.
      const written = await store.getOrganization(during.orgId);
      expect(await store.listActiveApiKeys(during.orgId)).toEqual(written === null ? [] : [duringKey]);
    });

    it('fails the first call within connectTimeoutMs when Redis is unreachable at start, then connects by itself', async () => {
      proxy.refuse();
      const { store } = storeAt(proxy.url);
      const org = organization();

      await expect(within(TIMEOUT_MS + MARGIN_MS, store.getOrganization(org.orgId))).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );

      proxy.restore();
      await eventually(RECOVERY_MS, () =>
        store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId)),
      );
      expect(await store.getOrganization(org.orgId)).toEqual(org);
    });
  });

  describe('redisStore', () => {
    it('organizations written before issuer registrations become their first registration on first touch', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const legacy = legacyOrganizations();
      for (const org of Object.values(legacy)) {
        const fields = Object.fromEntries(
          Object.entries(org).map(([field, value]) => [field, JSON.stringify(value)]),
        );
        await admin.hSet(`${keyPrefix}org:${org.orgId}`, fields);
        await admin.set(`${keyPrefix}issuer:${org.issuer}`, org.orgId);
      }

      await expectLegacyOrganizationsUpgraded(store, legacy);
      expect(await admin.exists(`${keyPrefix}issuer:${legacy.shared.issuer}`)).toBe(0);
      expect(await admin.hExists(`${keyPrefix}org:${legacy.shared.orgId}`, 'issuer')).toBe(0);
    });

    it('keeps a refresh token a minute past its expiry and a family revocation for at least a day', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const token = refreshToken({ expiresAt: nowSeconds() + 1800 });
      await store.saveRefreshToken(token);
      await store.revokeRefreshTokenFamily(refreshToken().familyId, nowSeconds());

      const tokenTtl = await admin.ttl(`${keyPrefix}refresh:${token.jti}`);
      expect(tokenTtl).toBeGreaterThan(1800);
      expect(tokenTtl).toBeLessThanOrEqual(1860);
      const [marker] = await admin.keys(`${keyPrefix}family-revoked:*`);
      expect(await admin.ttl(marker ?? expect.unreachable())).toBeGreaterThanOrEqual(86_400 - 5);
    });

    it('rotates a refresh token saved before the grace window (no issuedAt or kid), and keeps the used key until the token would expire', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const { issuedAt, kid, ...saved } = refreshToken();
      await admin.set(`${keyPrefix}refresh:${saved.jti}`, JSON.stringify(saved), { EX: 1860 });
      const successor = successorOf({ ...saved, issuedAt, kid });
      const input = { jti: saved.jti, successor, now: nowSeconds(), graceSeconds: 10 };

      expect(await store.rotateRefreshToken(input)).toEqual({ outcome: 'rotated', successor });
      expect(await store.rotateRefreshToken(input)).toEqual({ outcome: 'retried', successor });
      expect(await admin.ttl(`${keyPrefix}refresh:${saved.jti}`)).toBeGreaterThan(1800);
    });

    it('reads a user stored before roles existed as a member, and can make it an org admin', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      const legacy = {
        userId: crypto.randomUUID(),
        orgId: org.orgId,
        email: 'legacy@example.com',
        onboardingCompleted: false,
        kycStatus: 'not_started',
        accreditationStatus: 'not_submitted',
        createdAt: 1_700_000_000,
        updatedAt: 1_700_000_000,
      };
      await admin.set(`${keyPrefix}user:${legacy.userId}`, JSON.stringify(legacy));

      expect(await store.getUser(org.orgId, legacy.userId)).toEqual({ ...legacy, role: 'member' });
      expect(
        await store.setUserRole({
          orgId: org.orgId,
          userId: legacy.userId,
          role: 'org_admin',
          now: 1_700_000_060,
        }),
      ).toEqual({ ...legacy, role: 'org_admin', updatedAt: 1_700_000_060 });
    });

    it('sends its scripts again after Redis forgot them (SCRIPT FLUSH, restart)', async () => {
      const { store } = storeAt(REDIS_URL);
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      await admin.scriptFlush();

      expect(await store.getOrganization(org.orgId)).toEqual(org);
    });

    it("uses the host's client and leaves it open on close()", async () => {
      const client = await createClient({ url: REDIS_URL }).connect();
      onTestFinished(() => client.close());
      const keyPrefix = uniqueKeyPrefix();
      onTestFinished(() => deleteKeys(admin, keyPrefix));
      const store = redisStore({ client }, { keyPrefix });
      const org = organization();

      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      await store.close();

      expect(client.isReady).toBe(true);
      expect(await store.getOrganization(org.orgId)).toEqual(org);
    });

    it('rejects a missing connection or a bad option with a TypeError naming it', () => {
      expect(() => redisStore({ url: '' })).toThrow(/`\{ url \}`/);
      expect(() => redisStore({ client: {} as never })).toThrow(/`client`/);
      expect(() => redisStore({ url: REDIS_URL }, { commandTimeoutMs: 0 })).toThrow(/`commandTimeoutMs`/);
      expect(() => redisStore({ url: REDIS_URL }, { keyPrefix: 1 as never })).toThrow(/`keyPrefix`/);
    });
  });
}
