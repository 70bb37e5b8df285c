import type { ConsoleSessionRecord, ConsoleSessionStore } from '@rialto-exchange/core';
import type { SqlContext } from './context.js';

/** Console sessions, one row each; every save sweeps the expired ones. */
export function sqlConsoleSessions({ db, dialect, run }: SqlContext): ConsoleSessionStore {
  return {
    saveConsoleSession: (record) =>
      run(async () => {
        await db.deleteFrom('console_sessions').where('expires_at', '<=', record.createdAt).execute();
        const row = {
          session_hash: record.sessionHash,
          credential_fingerprint: record.credentialFingerprint,
          created_at: record.createdAt,
          expires_at: record.expiresAt,
        };
        const { session_hash: _, ...replaced } = row;
        const insert = db.insertInto('console_sessions').values(row);
        await (dialect === 'mysql'
          ? insert.onDuplicateKeyUpdate(replaced)
          : insert.onConflict((conflict) => conflict.column('session_hash').doUpdateSet(replaced))
        ).execute();
      }),

    getConsoleSession: (sessionHash, now) =>
      run(async (): Promise<ConsoleSessionRecord | null> => {
        const row = await db
          .selectFrom('console_sessions')
          .selectAll()
          .where('session_hash', '=', sessionHash)
          .where('expires_at', '>', now)
          .executeTakeFirst();
        if (!row) return null;
        return {
          sessionHash: row.session_hash,
          credentialFingerprint: row.credential_fingerprint,
          createdAt: Number(row.created_at),
          expiresAt: Number(row.expires_at),
        };
      }),

    deleteConsoleSession: (sessionHash) =>
      run(async () => {
        const { numDeletedRows } = await db
          .deleteFrom('console_sessions')
          .where('session_hash', '=', sessionHash)
          .executeTakeFirst();
        return Number(numDeletedRows) > 0;
      }),
  };
}
