import type { RefreshFamilySummary, RefreshTokenRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { nowSeconds, refreshToken, successorOf } from './fixtures.js';

function summaryOf({ familyId, issuedAt, expiresAt }: RefreshTokenRecord): RefreshFamilySummary {
  return { familyId, lastIssuedAt: issuedAt, expiresAt };
}

export function describeRefreshFamilies({ freshStore }: SuiteContext): void {
  describe('refresh-token families of a user', () => {
    it("listRefreshFamilies lists each live family once by its newest token, newest first, never another user's", async () => {
      const store = await freshStore();
      const now = nowSeconds();
      const orgId = crypto.randomUUID();
      const userId = crypto.randomUUID();
      const ofUser = (overrides: Partial<RefreshTokenRecord>) =>
        refreshToken({ orgId, userId, ...overrides });

      const rotatedFirst = ofUser({ issuedAt: now - 100 });
      await store.saveRefreshToken(rotatedFirst);
      const rotated = successorOf(rotatedFirst, now - 50);
      await store.rotateRefreshToken({
        jti: rotatedFirst.jti,
        successor: rotated,
        now: now - 50,
        graceSeconds: 0,
      });
      const newest = ofUser({ issuedAt: now - 10 });
      const revoked = ofUser({ issuedAt: now - 30 });
      const expired = ofUser({ issuedAt: now - 4000, expiresAt: now - 1 });
      const otherOrg = refreshToken({ userId, issuedAt: now - 5 });
      const otherUser = refreshToken({ orgId, issuedAt: now - 5 });
      for (const token of [newest, revoked, expired, otherOrg, otherUser])
        await store.saveRefreshToken(token);
      await store.revokeRefreshTokenFamily(revoked.familyId, now - 20);

      expect(await store.listRefreshFamilies({ orgId, userId, now, limit: 10 })).toEqual([
        summaryOf(newest),
        summaryOf(rotated),
      ]);
      expect(await store.listRefreshFamilies({ orgId, userId, now, limit: 1 })).toEqual([summaryOf(newest)]);
      expect(await store.listRefreshFamilies({ orgId: otherOrg.orgId, userId, now, limit: 10 })).toEqual([
        summaryOf(otherOrg),
      ]);

      // Ending a session is revoking its family: it leaves the list.
      await store.revokeRefreshTokenFamily(newest.familyId, now);
      expect(await store.listRefreshFamilies({ orgId, userId, now, limit: 10 })).toEqual([
        summaryOf(rotated),
      ]);
    });

    it('listRefreshFamilies orders ties by family id descending and drops a family once `now` reaches its expiry', async () => {
      const store = await freshStore();
      const now = nowSeconds();
      const orgId = crypto.randomUUID();
      const userId = crypto.randomUUID();
      const tokens = [1, 2, 3].map(() =>
        refreshToken({ orgId, userId, issuedAt: now - 60, expiresAt: now + 600 }),
      );
      for (const token of tokens) await store.saveRefreshToken(token);
      const byFamilyDescending = [...tokens].sort((left, right) => (left.familyId < right.familyId ? 1 : -1));

      expect(await store.listRefreshFamilies({ orgId, userId, now, limit: 10 })).toEqual(
        byFamilyDescending.map(summaryOf),
      );
      expect(await store.listRefreshFamilies({ orgId, userId, now: now + 600, limit: 10 })).toEqual([]);
      expect(await store.listRefreshFamilies({ orgId, userId: crypto.randomUUID(), now, limit: 10 })).toEqual(
        [],
      );
    });
  });
}
