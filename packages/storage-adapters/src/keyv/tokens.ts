import type { RefreshTokenRecord, RotateRefreshTokenResult, TokenStore } from '@rialto-exchange/core';
import { refreshFamiliesOf } from '../internal/refresh-families.js';
import {
  EXPIRY_MARGIN_SECONDS,
  epochSeconds,
  FAMILY_REVOCATION_MIN_SECONDS,
  secondsToKeep,
} from '../internal/retention.js';
import type { KeyvContext } from './context.js';

/** What a used token's key holds until the token would have expired. */
interface UsedRefreshToken {
  familyId: string;
  successorJti: string;
}

/** A user's families, by family id: the newest token saved in each. */
type UserFamilies = Record<string, Pick<RefreshTokenRecord, 'jti' | 'issuedAt' | 'expiresAt'>>;

/**
 * Refresh tokens under their jti (a used one points to its successor), with a family's latest
 * expiry and its revocation marker; single-use keys with their expiry.
 */
export function keyvTokens({ key, run, get, set, withLocks }: KeyvContext): TokenStore {
  async function saveRefreshToken(deadlineAt: number, record: RefreshTokenRecord): Promise<void> {
    if ((await get(deadlineAt, key.familyRevoked(record.familyId))) !== undefined) return;
    const ttlSeconds = secondsToKeep(record.expiresAt);
    await set(deadlineAt, key.refreshToken(record.jti), record, ttlSeconds);
    // Revocation cannot list a family's tokens here, so it remembers the family for as long as
    // the longest-lived of them instead.
    await withLocks([key.familyExpiry(record.familyId)], async () => {
      const latest = (await get<number>(deadlineAt, key.familyExpiry(record.familyId))) ?? 0;
      if (record.expiresAt > latest) {
        await set(deadlineAt, key.familyExpiry(record.familyId), record.expiresAt, ttlSeconds);
      }
    });
    // Keyv cannot find a user's tokens otherwise. Expired families are dropped on each write.
    const familiesKey = key.userFamilies(record.orgId, record.userId);
    await withLocks([familiesKey], async () => {
      const now = epochSeconds();
      const families = Object.fromEntries(
        Object.entries((await get<UserFamilies>(deadlineAt, familiesKey)) ?? {}).filter(
          ([, newest]) => newest.expiresAt > now,
        ),
      );
      const known = families[record.familyId];
      if (!known || record.issuedAt >= known.issuedAt) {
        const { jti, issuedAt, expiresAt } = record;
        families[record.familyId] = { jti, issuedAt, expiresAt };
      }
      const longest = Math.max(...Object.values(families).map((newest) => newest.expiresAt));
      await set(deadlineAt, familiesKey, families, secondsToKeep(longest));
    });
  }

  return {
    saveRefreshToken(saved) {
      // Copied at the call: the caller may reuse its object once this call returns.
      const record = { ...saved };
      return run((deadlineAt) => saveRefreshToken(deadlineAt, record));
    },

    rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      // Copied before the first await: the caller may reuse its object once this call returns.
      const next: RefreshTokenRecord = { ...successor };
      // Keyv has no compare-and-set: rotations of one token are serialized in this process, so it
      // rotates once here; across processes two rotations can still both succeed (see keyvStore).
      return run((deadlineAt) =>
        withLocks([key.refreshToken(jti)], async (): Promise<RotateRefreshTokenResult> => {
          const stored = await get<RefreshTokenRecord | UsedRefreshToken>(deadlineAt, key.refreshToken(jti));
          if (!stored || (await get(deadlineAt, key.familyRevoked(stored.familyId))) !== undefined)
            return { outcome: 'unknown' };
          if ('successorJti' in stored) {
            const issued = await get<RefreshTokenRecord | UsedRefreshToken>(
              deadlineAt,
              key.refreshToken(stored.successorJti),
            );
            return issued && !('successorJti' in issued) && now < issued.issuedAt + graceSeconds
              ? { outcome: 'retried', successor: issued }
              : { outcome: 'reused' };
          }
          if (stored.expiresAt <= now) return { outcome: 'unknown' };
          // The successor first: cut short after it, the token is still live and the retry rotates
          // it again; the successor left behind was never handed out. Marked used, the token points
          // to its successor, so a retry after a timeout that still completed gets that successor.
          // Past the deadline the caller has its 503, and this write is refused: the token stays
          // live for the caller's retry.
          await saveRefreshToken(deadlineAt, next);
          const used: UsedRefreshToken = { familyId: stored.familyId, successorJti: next.jti };
          await set(deadlineAt, key.refreshToken(jti), used, secondsToKeep(stored.expiresAt));
          return { outcome: 'rotated', successor: { ...next } };
        }),
      );
    },

    revokeRefreshTokenFamily: (familyId, now) =>
      run(async (deadlineAt) => {
        const latest = (await get<number>(deadlineAt, key.familyExpiry(familyId))) ?? now;
        const ttlSeconds = Math.max(FAMILY_REVOCATION_MIN_SECONDS, latest - now + EXPIRY_MARGIN_SECONDS);
        await set(deadlineAt, key.familyRevoked(familyId), now, ttlSeconds);
      }),

    isRefreshTokenLive: ({ jti, familyId, now }) =>
      run(async (deadlineAt) => {
        const [stored, revoked] = await Promise.all([
          get<RefreshTokenRecord | UsedRefreshToken>(deadlineAt, key.refreshToken(jti)),
          get(deadlineAt, key.familyRevoked(familyId)),
        ]);
        if (stored === undefined || revoked !== undefined || 'successorJti' in stored) return false;
        return stored.familyId === familyId && stored.expiresAt > now;
      }),

    listRefreshFamilies: ({ orgId, userId, now, limit }) =>
      run(async (deadlineAt) => {
        const families = (await get<UserFamilies>(deadlineAt, key.userFamilies(orgId, userId))) ?? {};
        const live: RefreshTokenRecord[] = [];
        for (const [familyId, newest] of Object.entries(families)) {
          // Live as rotateRefreshToken has it: stored unused, unexpired, family not revoked.
          const stored = await get<RefreshTokenRecord | UsedRefreshToken>(
            deadlineAt,
            key.refreshToken(newest.jti),
          );
          if (!stored || 'successorJti' in stored || stored.expiresAt <= now) continue;
          if ((await get(deadlineAt, key.familyRevoked(familyId))) !== undefined) continue;
          live.push(stored);
        }
        return refreshFamiliesOf(live, limit);
      }),

    consumeOnce: (consumedKey, expiresAt, now) =>
      // Read, then write under the in-process lock: Keyv offers no set-if-absent, so only calls from
      // other processes sharing the backend can both get true.
      run((deadlineAt) =>
        withLocks([key.consumed(consumedKey)], async () => {
          const recordedUntil = await get<number>(deadlineAt, key.consumed(consumedKey));
          if (recordedUntil !== undefined && recordedUntil > now) return false;
          await set(
            deadlineAt,
            key.consumed(consumedKey),
            expiresAt,
            Math.max(1, expiresAt - now + EXPIRY_MARGIN_SECONDS),
          );
          return true;
        }),
      ),
  };
}
