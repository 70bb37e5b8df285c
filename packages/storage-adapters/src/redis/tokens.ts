import type { RefreshTokenRecord, RotateRefreshTokenResult, TokenStore } from '@rialto-exchange/core';
import { createBatcher } from '../internal/batcher.js';
import { refreshFamiliesOf } from '../internal/refresh-families.js';
import {
  EXPIRY_MARGIN_SECONDS,
  epochSeconds,
  FAMILY_REVOCATION_MIN_SECONDS,
  secondsToKeep,
} from '../internal/retention.js';
import type { BatchItem, RedisContext } from './context.js';
import {
  CONSUME_ONCE,
  INDEX_USER_FAMILIES,
  IS_REFRESH_TOKEN_LIVE,
  LIVE_FAMILY_HEAD,
  REVOKE_REFRESH_TOKEN_FAMILY,
  ROTATE_REFRESH_TOKEN,
  SAVE_REFRESH_TOKENS,
} from './scripts.js';

// Saves batched into one script call (each brings 2 keys and 3 arguments).
const MAX_BATCH = 100;

/**
 * Refresh tokens, one hash per family (its slot), with the family's revocation marker beside it;
 * rotation is one script. Single-use keys are single keys with their expiry.
 */
export function redisTokens({ key, run, send, script, scriptPerSlot }: RedisContext): TokenStore {
  // Every exchange saves a refresh token: saves that arrive together go out as one operation, one
  // script call per slot. A batch applies whole or fails whole per slot; a failed slot fails every
  // save of the batch.
  const saveRefreshTokens = createBatcher<BatchItem>(async (saves) => {
    await run((deadlineAt) => scriptPerSlot(deadlineAt, SAVE_REFRESH_TOKENS, saves));
    return undefined;
  }, MAX_BATCH);

  // Every saved token also lists its family under its user (another slot: the org's), batched
  // the same way, so listRefreshFamilies need not scan every family.
  const indexUserFamilies = createBatcher<BatchItem>(async (entries) => {
    await run((deadlineAt) => scriptPerSlot(deadlineAt, INDEX_USER_FAMILIES, entries));
    return undefined;
  }, MAX_BATCH);
  const indexUserFamily = ({ orgId, userId, familyId, expiresAt }: RefreshTokenRecord) =>
    indexUserFamilies({
      keys: [key.org(orgId).userFamilies(userId)],
      args: [familyId, String(expiresAt), String(secondsToKeep(expiresAt)), String(epochSeconds())],
    });

  return {
    async saveRefreshToken(record) {
      const keys = key.family(record.familyId);
      // Serialized at the call: the caller may reuse its object before the batch goes out.
      await Promise.all([
        saveRefreshTokens({
          keys: [keys.tokens, keys.revoked],
          args: [record.jti, JSON.stringify(record), String(secondsToKeep(record.expiresAt))],
        }),
        indexUserFamily({ ...record }),
      ]);
    },

    rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      // Serialized before the first await: the caller may reuse its object.
      const successorJson = JSON.stringify(successor);
      // The presented token's family is the successor's: core builds it from the token's `fid`.
      const keys = key.family(successor.familyId);
      // Indexed whatever the outcome: an index entry whose family has no live token is skipped.
      const indexed = indexUserFamily({ ...successor });
      const rotated = run(async (deadlineAt): Promise<RotateRefreshTokenResult> => {
        const [outcome, stored] = (await script(
          deadlineAt,
          ROTATE_REFRESH_TOKEN,
          [keys.tokens, keys.revoked],
          [
            String(now),
            String(graceSeconds),
            jti,
            successor.jti,
            successorJson,
            String(secondsToKeep(successor.expiresAt)),
            String(EXPIRY_MARGIN_SECONDS),
          ],
        )) as [RotateRefreshTokenResult['outcome'], string?];
        switch (outcome) {
          case 'rotated':
            return { outcome, successor: JSON.parse(successorJson) as RefreshTokenRecord };
          case 'retried':
            return { outcome, successor: JSON.parse(stored as string) as RefreshTokenRecord };
          default:
            return { outcome };
        }
      });
      return Promise.all([rotated, indexed]).then(([result]) => result);
    },

    revokeRefreshTokenFamily: (familyId, now) =>
      run(async (deadlineAt) => {
        const keys = key.family(familyId);
        await script(
          deadlineAt,
          REVOKE_REFRESH_TOKEN_FAMILY,
          [keys.tokens, keys.revoked],
          [String(now), String(FAMILY_REVOCATION_MIN_SECONDS)],
        );
      }),

    isRefreshTokenLive: ({ jti, familyId, now }) =>
      run(async (deadlineAt) => {
        const keys = key.family(familyId);
        const live = await script(
          deadlineAt,
          IS_REFRESH_TOKEN_LIVE,
          [keys.tokens, keys.revoked],
          [jti, String(now)],
        );
        return live === 1;
      }),

    listRefreshFamilies: ({ orgId, userId, now, limit }) =>
      run(async (deadlineAt) => {
        const index = key.org(orgId).userFamilies(userId);
        const familyIds = (await send(deadlineAt, [
          'ZRANGE',
          index,
          `(${now}`,
          '+inf',
          'BYSCORE',
        ])) as string[];
        const heads = await Promise.all(
          familyIds.map((familyId) => {
            const keys = key.family(familyId);
            return script(deadlineAt, LIVE_FAMILY_HEAD, [keys.tokens, keys.revoked], [String(now)]);
          }),
        );
        const live = heads
          .filter((head): head is string => typeof head === 'string')
          .map((head) => JSON.parse(head) as RefreshTokenRecord)
          .filter((head) => head.orgId === orgId && head.userId === userId);
        return refreshFamiliesOf(live, limit);
      }),

    consumeOnce: (consumedKey, expiresAt, now) =>
      run(async (deadlineAt) => {
        const ttlSeconds = Math.max(1, expiresAt - now + EXPIRY_MARGIN_SECONDS);
        const recorded = await script(
          deadlineAt,
          CONSUME_ONCE,
          [key.consumed(consumedKey)],
          [String(expiresAt), String(now), String(ttlSeconds)],
        );
        return recorded === 1;
      }),
  };
}
