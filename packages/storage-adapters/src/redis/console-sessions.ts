import type { ConsoleSessionRecord, ConsoleSessionStore } from '@rialto-exchange/core';
import type { RedisContext } from './context.js';

/** Console sessions, one key each, expiring with the session. */
export function redisConsoleSessions({ key, run, send }: RedisContext): ConsoleSessionStore {
  return {
    saveConsoleSession: (record) =>
      run(async (deadlineAt) => {
        const ttlSeconds = Math.max(1, record.expiresAt - record.createdAt);
        await send(deadlineAt, [
          'SET',
          key.consoleSession(record.sessionHash),
          JSON.stringify(record),
          'EX',
          String(ttlSeconds),
        ]);
      }),

    getConsoleSession: (sessionHash, now) =>
      run(async (deadlineAt) => {
        const json = await send(deadlineAt, ['GET', key.consoleSession(sessionHash)]);
        if (typeof json !== 'string') return null;
        const session = JSON.parse(json) as ConsoleSessionRecord;
        // Redis expires the key by its own clock; the caller's decides.
        return session.expiresAt > now ? session : null;
      }),

    deleteConsoleSession: (sessionHash) =>
      run(async (deadlineAt) => Number(await send(deadlineAt, ['DEL', key.consoleSession(sessionHash)])) > 0),
  };
}
