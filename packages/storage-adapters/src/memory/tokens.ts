import type { TokenStore } from '@rialto-exchange/core';
import { refreshFamiliesOf } from '../internal/refresh-families.js';
import { epochSeconds } from '../internal/retention.js';
import { copyFlat, copyFlatToKeep } from './copies.js';
import { type MemoryState, sweep } from './state.js';

const SWEEP_EVERY_SAVES = 1000;

export function memoryTokens(state: MemoryState): TokenStore {
  const { refreshTokens, usedRefreshTokens, familyRevokedAt, consumedUntil } = state;
  let savesSinceSweep = 0;
  let consumesSinceSweep = 0;

  // Successors stored by rotation count too: a service that mostly refreshes must still sweep.
  function sweepNowAndThen() {
    if (++savesSinceSweep >= SWEEP_EVERY_SAVES) {
      savesSinceSweep = 0;
      sweep(state, epochSeconds());
    }
  }

  return {
    async saveRefreshToken(record) {
      // Refused at consumption anyway; not storing it means the revocation need not outlive it.
      if (familyRevokedAt.has(record.familyId)) return;
      refreshTokens.set(record.jti, copyFlatToKeep(record));
      sweepNowAndThen();
    },

    async rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      const live = refreshTokens.get(jti);
      if (live) {
        if (live.expiresAt <= now || familyRevokedAt.has(live.familyId)) return { outcome: 'unknown' };
        refreshTokens.delete(jti);
        usedRefreshTokens.set(jti, {
          familyId: live.familyId,
          successorJti: successor.jti,
          expiresAt: live.expiresAt,
        });
        refreshTokens.set(successor.jti, copyFlatToKeep(successor));
        sweepNowAndThen();
        return { outcome: 'rotated', successor: copyFlat(successor) };
      }
      const used = usedRefreshTokens.get(jti);
      if (!used || familyRevokedAt.has(used.familyId)) return { outcome: 'unknown' };
      // Still in `refreshTokens` means the successor itself is unused.
      const next = refreshTokens.get(used.successorJti);
      if (next && now < next.issuedAt + graceSeconds)
        return { outcome: 'retried', successor: copyFlat(next) };
      return { outcome: 'reused' };
    },

    async revokeRefreshTokenFamily(familyId, now) {
      familyRevokedAt.set(familyId, now);
      for (const [jti, record] of refreshTokens) {
        if (record.familyId === familyId) refreshTokens.delete(jti);
      }
      for (const [jti, used] of usedRefreshTokens) {
        if (used.familyId === familyId) usedRefreshTokens.delete(jti);
      }
    },

    async isRefreshTokenLive({ jti, familyId, now }) {
      // Used tokens leave `refreshTokens`, and revoking a family deletes its tokens there.
      const live = refreshTokens.get(jti);
      return (
        live !== undefined &&
        live.familyId === familyId &&
        live.expiresAt > now &&
        !familyRevokedAt.has(familyId)
      );
    },

    async listRefreshFamilies({ orgId, userId, now, limit }) {
      // Used tokens leave `refreshTokens`, and revoking a family deletes its tokens there.
      const live = [...refreshTokens.values()].filter(
        (record) =>
          record.orgId === orgId &&
          record.userId === userId &&
          record.expiresAt > now &&
          !familyRevokedAt.has(record.familyId),
      );
      return refreshFamiliesOf(live, limit);
    },

    async consumeOnce(key, expiresAt, now) {
      const recordedUntil = consumedUntil.get(key);
      if (recordedUntil !== undefined && recordedUntil > now) return false;
      consumedUntil.set(key, expiresAt);
      if (++consumesSinceSweep >= SWEEP_EVERY_SAVES) {
        consumesSinceSweep = 0;
        sweep(state, now);
      }
      return true;
    },
  };
}
