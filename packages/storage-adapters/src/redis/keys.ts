import type { SigningKeyRecord, SigningKeyStore } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import type { RedisContext } from './context.js';
import { ENSURE_SIGNING_KEY } from './scripts.js';

/** Signing keys: one hash per use (kid -> record); the first key of a use is stored by one script. */
export function redisSigningKeys({ key, run, send, script }: RedisContext): SigningKeyStore {
  const newestFirst = (stored: string[]): SigningKeyRecord[] =>
    storeKit.sortedBy(
      stored.map((json) => JSON.parse(json)),
      storeKit.newestSigningKeyFirst,
    );

  return {
    ensureSigningKey: (candidate) =>
      run(async (deadlineAt) => {
        const stored = (await script(
          deadlineAt,
          ENSURE_SIGNING_KEY,
          [key.signingKeys(candidate.use)],
          [candidate.kid, JSON.stringify(candidate)],
        )) as string[];
        return newestFirst(stored)[0] as SigningKeyRecord;
      }),

    addSigningKey: (record) =>
      run(async (deadlineAt) => {
        await send(deadlineAt, ['HSETNX', key.signingKeys(record.use), record.kid, JSON.stringify(record)]);
      }),

    listSigningKeys: (use) =>
      run(async (deadlineAt) =>
        newestFirst((await send(deadlineAt, ['HVALS', key.signingKeys(use)])) as string[]),
      ),
  };
}
