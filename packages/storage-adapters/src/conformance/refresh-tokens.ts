import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { nowSeconds, refreshToken } from './fixtures.js';

export function describeRefreshTokens({ freshStore }: SuiteContext): void {
  describe('refresh tokens', () => {
    it('consumeRefreshToken returns the record once, then null', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);

      expect(await store.consumeRefreshToken(token.jti, nowSeconds())).toEqual(token);
      expect(await store.consumeRefreshToken(token.jti, nowSeconds())).toBeNull();
    });

    it('consumeRefreshToken returns null for an unknown jti', async () => {
      const store = await freshStore();
      await store.saveRefreshToken(refreshToken());

      expect(await store.consumeRefreshToken(refreshToken().jti, nowSeconds())).toBeNull();
    });

    it('consumeRefreshToken returns null once expiresAt <= now, and the record until then', async () => {
      const store = await freshStore();
      const atExpiry = refreshToken();
      const justBefore = refreshToken();
      await store.saveRefreshToken(atExpiry);
      await store.saveRefreshToken(justBefore);

      expect(await store.consumeRefreshToken(atExpiry.jti, atExpiry.expiresAt)).toBeNull();
      expect(await store.consumeRefreshToken(justBefore.jti, justBefore.expiresAt - 1)).toEqual(justBefore);
    });

    it('revokeRefreshTokenFamily refuses every token of the family, including ones saved afterwards', async () => {
      const store = await freshStore();
      const before = refreshToken();
      const sibling = refreshToken({ familyId: before.familyId });
      const otherFamily = refreshToken();
      await store.saveRefreshToken(before);
      await store.saveRefreshToken(sibling);
      await store.saveRefreshToken(otherFamily);

      await store.revokeRefreshTokenFamily(before.familyId, nowSeconds());
      const after = refreshToken({ familyId: before.familyId });
      await store.saveRefreshToken(after);

      expect(await store.consumeRefreshToken(before.jti, nowSeconds())).toBeNull();
      expect(await store.consumeRefreshToken(sibling.jti, nowSeconds())).toBeNull();
      expect(await store.consumeRefreshToken(after.jti, nowSeconds())).toBeNull();
      expect(await store.consumeRefreshToken(otherFamily.jti, nowSeconds())).toEqual(otherFamily);
    });

    it('revokeRefreshTokenFamily of an unknown family resolves and refuses its future tokens', async () => {
      const store = await freshStore();
      const token = refreshToken();

      await store.revokeRefreshTokenFamily(token.familyId, nowSeconds());
      await store.revokeRefreshTokenFamily(token.familyId, nowSeconds());
      await store.saveRefreshToken(token);

      expect(await store.consumeRefreshToken(token.jti, nowSeconds())).toBeNull();
    });

    it('many concurrent saves are each stored once and consumable once', async () => {
      const store = await freshStore();
      const tokens = Array.from({ length: 250 }, () => refreshToken());
      await Promise.all(tokens.map((token) => store.saveRefreshToken(token)));

      const consumed = await Promise.all(
        tokens.map((token) => store.consumeRefreshToken(token.jti, nowSeconds())),
      );
      expect(consumed).toEqual(tokens);
      const again = await Promise.all(
        tokens.map((token) => store.consumeRefreshToken(token.jti, nowSeconds())),
      );
      expect(again.every((record) => record === null)).toBe(true);
    });

    it('refresh tokens are copied in at the call: mutating the record before the save settles changes nothing', async () => {
      const store = await freshStore();
      const token = refreshToken();
      const snapshot = structuredClone(token);
      const saved = store.saveRefreshToken(token);
      token.userId = 'mutated';
      token.expiresAt = 0;
      await saved;

      expect(await store.consumeRefreshToken(snapshot.jti, nowSeconds())).toEqual(snapshot);
    });

    it('refresh tokens are copied in: mutating a saved record never changes the store', async () => {
      const store = await freshStore();
      const token = refreshToken();
      const snapshot = structuredClone(token);
      await store.saveRefreshToken(token);

      token.userId = 'mutated';
      token.expiresAt = 0;

      expect(await store.consumeRefreshToken(token.jti, nowSeconds())).toEqual(snapshot);
    });
  });
}
