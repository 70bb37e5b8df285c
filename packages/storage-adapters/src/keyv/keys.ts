import type { SigningKeyRecord, SigningKeyStore } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import type { KeyvContext } from './context.js';

/** Signing keys: one list per use, rewritten under the in-process lock. */
export function keyvSigningKeys({ key, run, get, set, withLocks }: KeyvContext): SigningKeyStore {
  return {
    ensureSigningKey: (candidate) =>
      run((deadlineAt) =>
        withLocks([key.signingKeys(candidate.use)], async () => {
          const stored = (await get<SigningKeyRecord[]>(deadlineAt, key.signingKeys(candidate.use))) ?? [];
          const newest = storeKit.sortedBy(stored, storeKit.newestSigningKeyFirst)[0];
          if (newest) return newest;
          await set(deadlineAt, key.signingKeys(candidate.use), [candidate]);
          return candidate;
        }),
      ),

    addSigningKey: (record) =>
      run((deadlineAt) =>
        withLocks([key.signingKeys(record.use)], async () => {
          const stored = (await get<SigningKeyRecord[]>(deadlineAt, key.signingKeys(record.use))) ?? [];
          if (stored.some((existing) => existing.kid === record.kid)) return;
          await set(deadlineAt, key.signingKeys(record.use), [...stored, record]);
        }),
      ),

    listSigningKeys: (use) =>
      run(async (deadlineAt) =>
        storeKit.sortedBy(
          (await get<SigningKeyRecord[]>(deadlineAt, key.signingKeys(use))) ?? [],
          storeKit.newestSigningKeyFirst,
        ),
      ),
  };
}
