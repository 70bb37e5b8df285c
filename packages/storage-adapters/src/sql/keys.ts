import type { SigningKeyRecord, SigningKeyStore, SigningKeyUse } from '@rialto-exchange/core';
import type { SqlContext } from './context.js';
import { fromSigningKey, toSigningKey } from './rows.js';
import { isUniqueViolation } from './sql-errors.js';

/**
 * Signing keys. The UNIQUE `ensure_slot` of the first key of each use decides which of several
 * instances starting together on an empty database stores its candidate.
 */
export function sqlSigningKeys({ db, run }: SqlContext): SigningKeyStore {
  async function newestSigningKey(use: SigningKeyUse): Promise<SigningKeyRecord | undefined> {
    const row = await db
      .selectFrom('signing_keys')
      .selectAll()
      .where('key_use', '=', use)
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toSigningKey(row);
  }

  return {
    ensureSigningKey: (candidate) =>
      run(async () => {
        const stored = await newestSigningKey(candidate.use);
        if (stored) return stored;
        try {
          await db
            .insertInto('signing_keys')
            .values({ ...fromSigningKey(candidate), ensure_slot: candidate.use })
            .execute();
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
        return (await newestSigningKey(candidate.use)) as SigningKeyRecord;
      }),

    addSigningKey: (record) =>
      run(async () => {
        try {
          await db.insertInto('signing_keys').values(fromSigningKey(record)).execute();
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
      }),

    listSigningKeys: (use) =>
      run(async () => {
        const rows = await db
          .selectFrom('signing_keys')
          .selectAll()
          .where('key_use', '=', use)
          .orderBy('created_at', 'desc')
          .orderBy('kid', 'desc')
          .execute();
        return rows.map(toSigningKey);
      }),
  };
}
