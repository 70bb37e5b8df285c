import type { ConsoleSessionRecord, ConsoleSessionStore } from '@rialto-exchange/core';
import type { KeyvContext } from './context.js';

/** Console sessions, each under its hash, expiring with the session through the backend's TTL. */
export function keyvConsoleSessions({ key, run, get, set, remove }: KeyvContext): ConsoleSessionStore {
  return {
    saveConsoleSession: (record) =>
      run(async (deadlineAt) => {
        const ttlSeconds = Math.max(1, record.expiresAt - record.createdAt);
        await set(deadlineAt, key.consoleSession(record.sessionHash), record, ttlSeconds);
      }),

    getConsoleSession: (sessionHash, now) =>
      run(async (deadlineAt) => {
        const session = await get<ConsoleSessionRecord>(deadlineAt, key.consoleSession(sessionHash));
        // The backend's TTL runs on its own clock; the caller's decides.
        return session && session.expiresAt > now ? session : null;
      }),

    deleteConsoleSession: (sessionHash) =>
      run(async (deadlineAt) => {
        const session = await get<ConsoleSessionRecord>(deadlineAt, key.consoleSession(sessionHash));
        if (session === undefined) return false;
        await remove(deadlineAt, key.consoleSession(sessionHash));
        return true;
      }),
  };
}
