import type { RefreshTokenRecord, Store } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { nowSeconds, refreshToken, successorOf } from './fixtures.js';

const GRACE_SECONDS = 10;

/** Rotates `token` into a fresh successor, as core does on each refresh. */
function rotate(
  store: Store,
  token: RefreshTokenRecord,
  { now = nowSeconds(), graceSeconds = GRACE_SECONDS, successor = successorOf(token, now) } = {},
) {
  return store.rotateRefreshToken({ jti: token.jti, successor, now, graceSeconds });
}

export function describeRefreshTokens({ freshStore }: SuiteContext): void {
  describe('refresh tokens', () => {
    it('isRefreshTokenLive: true for a saved token, false once used, expired, of a revoked family or never saved, and writes nothing', async () => {
      const store = await freshStore();
      const live = (token: RefreshTokenRecord, now = nowSeconds()) =>
        store.isRefreshTokenLive({ jti: token.jti, familyId: token.familyId, now });
      const token = refreshToken();
      expect(await live(token)).toBe(false);
      await store.saveRefreshToken(token);
      expect(await live(token)).toBe(true);
      // Asking twice changes nothing: the token still rotates.
      expect(await live(token)).toBe(true);
      expect(await live(token, token.expiresAt)).toBe(false);

      const successor = successorOf(token);
      expect(await rotate(store, token, { successor })).toEqual({ outcome: 'rotated', successor });
      expect(await live(token)).toBe(false);
      expect(await live(successor)).toBe(true);

      await store.revokeRefreshTokenFamily(token.familyId, nowSeconds());
      expect(await live(successor)).toBe(false);

      const other = refreshToken();
      await store.saveRefreshToken(other);
      expect(
        await store.isRefreshTokenLive({ jti: other.jti, familyId: token.familyId, now: nowSeconds() }),
      ).toBe(false);
      expect(await live(other)).toBe(true);
    });

    it('rotateRefreshToken of a live token answers rotated with the successor, which is live from then on', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);
      const successor = successorOf(token);

      expect(await rotate(store, token, { successor })).toEqual({ outcome: 'rotated', successor });
      const next = successorOf(successor);
      expect(await rotate(store, successor, { successor: next })).toEqual({
        outcome: 'rotated',
        successor: next,
      });
    });

    it('the same rotateRefreshToken call applied twice (a timed-out command, then its retry) answers rotated, then retried with the same successor', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);
      const now = nowSeconds();
      const input = { jti: token.jti, successor: successorOf(token, now), now, graceSeconds: GRACE_SECONDS };

      expect(await store.rotateRefreshToken(input)).toEqual({
        outcome: 'rotated',
        successor: input.successor,
      });
      expect(await store.rotateRefreshToken(input)).toEqual({
        outcome: 'retried',
        successor: input.successor,
      });
      expect(await rotate(store, input.successor)).toEqual({
        outcome: 'rotated',
        successor: expect.objectContaining({ familyId: token.familyId }),
      });
    });

    it('a retry within the grace window answers retried with the first successor, and its own successor is never stored', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);
      const now = nowSeconds();
      const first = successorOf(token, now);
      const second = successorOf(token, now + 1);

      await rotate(store, token, { now, successor: first });
      expect(await rotate(store, token, { now: now + GRACE_SECONDS - 1, successor: second })).toEqual({
        outcome: 'retried',
        successor: first,
      });
      expect(await rotate(store, second, { now: now + 1 })).toEqual({ outcome: 'unknown' });
    });

    it('a retry once the grace window has passed answers reused', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);
      const now = nowSeconds();
      await rotate(store, token, { now });

      expect(await rotate(store, token, { now: now + GRACE_SECONDS })).toEqual({ outcome: 'reused' });
    });

    it('a retry answers reused, even within the grace window, once the successor itself was used', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);
      const now = nowSeconds();
      const successor = successorOf(token, now);
      await rotate(store, token, { now, successor });
      await rotate(store, successor, { now });

      expect(await rotate(store, token, { now })).toEqual({ outcome: 'reused' });
    });

    it('with graceSeconds 0 any second use answers reused', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);
      const now = nowSeconds();
      const input = { jti: token.jti, successor: successorOf(token, now), now, graceSeconds: 0 };

      expect(await store.rotateRefreshToken(input)).toEqual({
        outcome: 'rotated',
        successor: input.successor,
      });
      expect(await store.rotateRefreshToken(input)).toEqual({ outcome: 'reused' });
    });

    it('rotateRefreshToken answers unknown for a jti never saved, and stores nothing', async () => {
      const store = await freshStore();
      await store.saveRefreshToken(refreshToken());
      const stranger = refreshToken();
      const successor = successorOf(stranger);

      expect(await rotate(store, stranger, { successor })).toEqual({ outcome: 'unknown' });
      expect(await rotate(store, successor)).toEqual({ outcome: 'unknown' });
    });

    it('rotateRefreshToken answers unknown once expiresAt <= now, and rotates until then', async () => {
      const store = await freshStore();
      const atExpiry = refreshToken();
      const justBefore = refreshToken();
      await store.saveRefreshToken(atExpiry);
      await store.saveRefreshToken(justBefore);
      const successor = successorOf(atExpiry);

      expect(await rotate(store, atExpiry, { now: atExpiry.expiresAt, successor })).toEqual({
        outcome: 'unknown',
      });
      expect(await rotate(store, successor)).toEqual({ outcome: 'unknown' });
      expect((await rotate(store, justBefore, { now: justBefore.expiresAt - 1 })).outcome).toBe('rotated');
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

      expect(await rotate(store, before)).toEqual({ outcome: 'unknown' });
      expect(await rotate(store, sibling)).toEqual({ outcome: 'unknown' });
      expect(await rotate(store, after)).toEqual({ outcome: 'unknown' });
      expect((await rotate(store, otherFamily)).outcome).toBe('rotated');
    });

    it('after revokeRefreshTokenFamily a retry within the grace window answers unknown, and the successor is refused', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);
      const successor = successorOf(token);
      await rotate(store, token, { successor });

      await store.revokeRefreshTokenFamily(token.familyId, nowSeconds());

      expect(await rotate(store, token)).toEqual({ outcome: 'unknown' });
      expect(await rotate(store, successor)).toEqual({ outcome: 'unknown' });
    });

    it('revokeRefreshTokenFamily of an unknown family resolves and refuses its future tokens', async () => {
      const store = await freshStore();
      const token = refreshToken();

      await store.revokeRefreshTokenFamily(token.familyId, nowSeconds());
      await store.revokeRefreshTokenFamily(token.familyId, nowSeconds());
      await store.saveRefreshToken(token);

      expect(await rotate(store, token)).toEqual({ outcome: 'unknown' });
    });

    it('many concurrent saves are each stored once and rotate once', async () => {
      const store = await freshStore();
      const tokens = Array.from({ length: 250 }, () => refreshToken());
      await Promise.all(tokens.map((token) => store.saveRefreshToken(token)));

      const rotated = await Promise.all(tokens.map((token) => rotate(store, token, { graceSeconds: 0 })));
      expect(rotated.every((result) => result.outcome === 'rotated')).toBe(true);
      const again = await Promise.all(tokens.map((token) => rotate(store, token, { graceSeconds: 0 })));
      expect(again.every((result) => result.outcome === 'reused')).toBe(true);
    });

    it('refresh tokens are copied in at the call: mutating the record before the save settles changes nothing', async () => {
      const store = await freshStore();
      const token = refreshToken();
      const snapshot = structuredClone(token);
      const saved = store.saveRefreshToken(token);
      token.userId = 'mutated';
      token.expiresAt = 0;
      await saved;

      expect((await rotate(store, snapshot)).outcome).toBe('rotated');
    });

    it('successors are copied in and out: mutating the input or the answer never changes the stored successor', async () => {
      const store = await freshStore();
      const token = refreshToken();
      await store.saveRefreshToken(token);
      const now = nowSeconds();
      const successor = successorOf(token, now);
      const snapshot = structuredClone(successor);

      const rotated = await rotate(store, token, { now, successor });
      successor.userId = 'mutated';
      if (rotated.outcome === 'rotated') rotated.successor.expiresAt = 0;
      const retried = await rotate(store, token, { now });
      expect(retried).toEqual({ outcome: 'retried', successor: snapshot });
      if (retried.outcome === 'retried') retried.successor.kid = 'mutated';

      expect(await rotate(store, token, { now })).toEqual({ outcome: 'retried', successor: snapshot });
    });
  });
}
