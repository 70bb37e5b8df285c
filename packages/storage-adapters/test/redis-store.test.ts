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
import {
  expectDeleteRacingClaimReleasesIssuer,
  expectInterruptedCreateRetried,
  expectLiveClaimsSurviveCleanup,
  expectRaceLeftoversReleased,
  type RawRedis,
} from './redis-issuer-leftovers.js';
import { deleteKeys, type RedisAdminClient, uniqueKeyPrefix } from './redis-keys.js';
import { writeLayoutV1 } from './redis-layout-v1.js';
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
    it('organizations written before issuer registrations become their first registration when the layout is moved', async () => {
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
      expect(await admin.exists(`${keyPrefix}org:${legacy.shared.orgId}`)).toBe(0);
      expect(await admin.hExists(`${keyPrefix}{o:${legacy.shared.orgId}}:org`, 'issuer')).toBe(0);
      expect(await admin.hExists(`${keyPrefix}{o:${legacy.shared.orgId}}:org`, 'name')).toBe(1);
    });

    it('moves a database of the first key layout to the current one on the first call, keeping every record', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const v1 = await writeLayoutV1(admin, keyPrefix);
      const now = nowSeconds();

      expect(await store.getOrganization(v1.org.orgId)).toEqual(v1.org);
      expect(await store.listActiveApiKeys(v1.org.orgId)).toEqual([v1.key]);
      expect(await store.listIssuerRegistrations(v1.org.orgId)).toEqual([v1.registration]);
      expect(await store.findIssuerRegistrations(v1.registration.issuer)).toEqual([v1.registration]);
      expect(await store.findOrCreateUser(v1.login)).toEqual({ outcome: 'existing', user: v1.user });
      expect(await store.getUserById(v1.user.userId)).toEqual(v1.user);
      expect(await store.createUser({ user: { ...v1.user, userId: crypto.randomUUID() }, events: [] })).toBe(
        'email_taken',
      );
      const successor = successorOf(v1.live, now);
      expect(await store.rotateRefreshToken({ jti: v1.live.jti, successor, now, graceSeconds: 0 })).toEqual({
        outcome: 'rotated',
        successor,
      });
      expect(
        await store.rotateRefreshToken({
          jti: v1.used,
          successor: successorOf(v1.live, now),
          now,
          graceSeconds: 0,
        }),
      ).toEqual({ outcome: 'reused' });
      const afterRevocation = successorOf(v1.revoked, now);
      await store.saveRefreshToken(afterRevocation);
      expect(
        await store.rotateRefreshToken({
          jti: afterRevocation.jti,
          successor: successorOf(v1.revoked, now),
          now,
          graceSeconds: 0,
        }),
      ).toEqual({ outcome: 'unknown' });
      expect(await store.listWebhookSubscriptions(v1.org.orgId)).toEqual([v1.webhook]);
      const claimed = await store.claimWebhookDeliveries({
        now,
        limit: 10,
        leaseSeconds: 60,
        leaseToken: 'lease',
      });
      expect(claimed).toEqual([{ ...v1.delivery, leaseToken: 'lease', leaseExpiresAt: now + 60 }]);
      expect(await store.listWebhookDeliveries(v1.org.orgId, v1.webhook.subscriptionId, 10)).toEqual([
        v1.delivery,
      ]);

      // Nothing is left in the first layout: every key is an org's or a family's, or a global index.
      const current =
        /^(\{[of]:|issuer-regs:|user-org:|webhook-delivery-org:|webhook-due-orgs$|org-index$|layout$|identity-claims$)/;
      const keys: string[] = [];
      for await (const batch of admin.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 }))
        keys.push(...batch);
      expect(keys.map((name) => name.slice(keyPrefix.length)).filter((name) => !current.test(name))).toEqual(
        [],
      );
      expect(await admin.get(`${keyPrefix}layout`)).toBe('12');
    });

    it('indexes the organizations of a cluster-ready (version 2) database once, so listOrganizations finds every one', async () => {
      const { store: before, keyPrefix } = storeAt(REDIS_URL);
      const orgs = Array.from({ length: 5 }, (_, index) =>
        organization({ createdAt: 1_700_000_000 + index }),
      );
      for (const org of orgs)
        await before.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      // What version 2 left: the same keys without the organization index.
      await admin.del(`${keyPrefix}org-index`);
      await admin.set(`${keyPrefix}layout`, '2');

      const after = redisStore({ url: REDIS_URL }, { keyPrefix });
      onTestFinished(() => after.close());
      const listed = await after.listOrganizations({ query: null, after: null, limit: 10 });
      expect(listed.map((org) => org.orgId)).toEqual(orgs.map((org) => org.orgId).reverse());
      expect(await admin.get(`${keyPrefix}layout`)).toBe('12');
      expect(await admin.zCard(`${keyPrefix}org-index`)).toBe(5);
    });

    it('reads an organization index entry whose organization is gone (a create or delete cut short) as absent', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const org = organization({ createdAt: 1_700_000_000 });
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      await admin.zAdd(`${keyPrefix}org-index`, { score: 0, value: `001800000000:${crypto.randomUUID()}` });
      expect(await store.listOrganizations({ query: null, after: null, limit: 10 })).toEqual([org]);
      expect(await store.deleteOrganization(org.orgId)).toBe(true);
      expect(await admin.zRange(`${keyPrefix}org-index`, 0, -1)).toHaveLength(1);
    });

    it('moves the first key layout once when several instances start together; the others wait for it', async () => {
      const { store: first, keyPrefix } = storeAt(REDIS_URL);
      const second = redisStore({ url: REDIS_URL }, { keyPrefix });
      onTestFinished(() => second.close());
      const v1 = await writeLayoutV1(admin, keyPrefix);

      const [fromFirst, fromSecond] = await Promise.all([
        first.listActiveApiKeys(v1.org.orgId),
        second.listActiveApiKeys(v1.org.orgId),
      ]);

      expect(fromFirst).toEqual([v1.key]);
      expect(fromSecond).toEqual([v1.key]);
      expect(await second.getUserById(v1.user.userId)).toEqual(v1.user);
      expect(await admin.exists(`${keyPrefix}layout-migration`)).toBe(0);
    });

    it('reads global index entries left by a step that failed half-way as absent, and drops a stale due mark', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
      const userId = crypto.randomUUID();
      const deliveryId = crypto.randomUUID();
      // What a process stopped between a global index entry and the org's own write leaves behind.
      await admin.set(`${keyPrefix}user-org:${userId}`, org.orgId);
      await admin.set(`${keyPrefix}webhook-delivery-org:${deliveryId}`, org.orgId);
      await admin.zAdd(`${keyPrefix}webhook-due-orgs`, { score: 0, value: org.orgId });

      expect(await store.getUserById(userId)).toBeNull();
      const now = nowSeconds();
      expect(
        await store.completeWebhookAttempt({
          deliveryId,
          leaseToken: 'lease',
          attempt: {
            attemptedAt: now,
            durationMs: 1,
            responseStatus: 200,
            error: null,
            responseExcerpt: null,
          },
          status: 'succeeded',
          nextAttemptAt: null,
          now,
        }),
      ).toBe(false);
      expect(
        await store.claimWebhookDeliveries({ now, limit: 10, leaseSeconds: 60, leaseToken: 'lease' }),
      ).toEqual([]);
      expect(await admin.zScore(`${keyPrefix}webhook-due-orgs`, org.orgId)).toBeNull();
    });

    describe('issuer index entries left by a crash or a claim racing deleteOrganization', () => {
      const rawOf = (client: RedisAdminClient): RawRedis => ({
        hSet: (key, field, value) => client.hSet(key, field, value),
        hDel: (key, field) => client.hDel(key, field),
        hVals: (key) => client.hVals(key),
        exists: (key) => client.exists(key),
      });

      it('read as absent and free their issuer and client ids for another org, leaving live entries', async () => {
        await expectRaceLeftoversReleased({ ...storeAt(REDIS_URL), raw: rawOf(admin) });
      });

      it('let a createOrganization interrupted before its claim be retried with the same issuer', async () => {
        await expectInterruptedCreateRetried({ ...storeAt(REDIS_URL), raw: rawOf(admin) });
      });

      it('are dropped by concurrent claimers without ever removing a claim that succeeded', async () => {
        await expectLiveClaimsSurviveCleanup({ ...storeAt(REDIS_URL), raw: rawOf(admin) });
      });

      it('never keep an issuer taken after deleteOrganization raced addIssuerRegistration', async () => {
        await expectDeleteRacingClaimReleasesIssuer({ ...storeAt(REDIS_URL), raw: rawOf(admin) });
      });
    });

    it("keeps a family's refresh tokens a minute past the last one's expiry and a family revocation for at least a day", async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const token = refreshToken({ expiresAt: nowSeconds() + 1800 });
      await store.saveRefreshToken(token);
      const revokedFamily = refreshToken().familyId;
      await store.revokeRefreshTokenFamily(revokedFamily, nowSeconds());

      const tokenTtl = await admin.ttl(`${keyPrefix}{f:${token.familyId}}:tokens`);
      expect(tokenTtl).toBeGreaterThan(1800);
      expect(tokenTtl).toBeLessThanOrEqual(1860);
      expect(await admin.ttl(`${keyPrefix}{f:${revokedFamily}}:revoked`)).toBeGreaterThanOrEqual(86_400 - 5);
    });

    it('drops used refresh tokens from their family once they are a minute past expiry, so an active family stays small', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const now = nowSeconds();
      const first = refreshToken({ issuedAt: now - 3000, expiresAt: now - 100 });
      const second = successorOf(first, now - 500);
      // The first was rotated long ago: its used marker names its expiry.
      await admin.hSet(`${keyPrefix}{f:${first.familyId}}:tokens`, {
        [first.jti]: JSON.stringify({ successorJti: second.jti, expiresAt: first.expiresAt }),
        [second.jti]: JSON.stringify(second),
      });
      await admin.set(`${keyPrefix}layout`, '2');
      const third = successorOf(second, now);

      expect(
        await store.rotateRefreshToken({ jti: second.jti, successor: third, now, graceSeconds: 10 }),
      ).toEqual({
        outcome: 'rotated',
        successor: third,
      });
      expect((await admin.hKeys(`${keyPrefix}{f:${first.familyId}}:tokens`)).sort()).toEqual(
        [second.jti, third.jti].sort(),
      );
    });

    it('rotates a refresh token saved before the grace window (no issuedAt or kid), and keeps the used key until the token would expire', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      const { issuedAt, kid, ...saved } = refreshToken();
      await admin.set(`${keyPrefix}refresh:${saved.jti}`, JSON.stringify(saved), { EX: 1860 });
      const successor = successorOf({ ...saved, issuedAt, kid });
      const input = { jti: saved.jti, successor, now: nowSeconds(), graceSeconds: 10 };

      expect(await store.rotateRefreshToken(input)).toEqual({ outcome: 'rotated', successor });
      expect(await store.rotateRefreshToken(input)).toEqual({ outcome: 'retried', successor });
      expect(await admin.ttl(`${keyPrefix}{f:${saved.familyId}}:tokens`)).toBeGreaterThan(1800);
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
      await admin.hSet(`${keyPrefix}{o:${org.orgId}}:users`, legacy.userId, JSON.stringify(legacy));

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

  describe('redisStore round trips', () => {
    /** The commands the client sends that name a key under `keyPrefix`, while `work` runs. */
    async function commandsDuring(keyPrefix: string, work: () => Promise<unknown>): Promise<string[]> {
      const monitor = createClient({ url: REDIS_URL });
      await monitor.connect();
      const seen: string[] = [];
      await monitor.monitor((line) => {
        // Commands a script runs show as `[0 lua]`: only those the client sent are round trips.
        if (line.includes(keyPrefix) && !/\[\d+ lua\]/.test(line)) seen.push(line);
      });
      // MONITOR echoes asynchronously: a marker command seen last means everything before it was.
      const marker = `${keyPrefix}marker`;
      try {
        await work();
        await admin.get(marker);
        await eventually(5_000, async () => expect(seen.some((line) => line.includes(marker))).toBe(true));
      } finally {
        await monitor.destroy();
      }
      return seen.filter((line) => !line.includes(marker));
    }

    it('sends the rate-limit hits of one turn as one script call, admitting what one call each would', async () => {
      const { store, keyPrefix } = storeAt(REDIS_URL);
      await store.migrate();
      const nowMs = Date.now();
      const hit = { key: 'org:burst', intervalMs: 1_000, toleranceMs: 5_000, nowMs };
      // Redis's script cache is the server's: an earlier test's SCRIPT FLUSH would make the first
      // EVALSHA a NOSCRIPT and its EVAL a second round trip. One hit first loads the script.
      await store.hitRateLimit?.({ ...hit, key: 'org:warm-up' });
      let results: Array<{ allowed: boolean } | undefined> = [];
      const commands = await commandsDuring(keyPrefix, async () => {
        results = await Promise.all(Array.from({ length: 12 }, () => store.hitRateLimit?.(hit)));
      });
      expect(results.filter((result) => result?.allowed)).toHaveLength(5);
      // Fails before: one EVALSHA per hit (12).
      expect(commands, commands.join('\n')).toHaveLength(1);
      expect(commands[0]).toMatch(/"EVALSHA"|"EVAL"/);
    });
  });
}
