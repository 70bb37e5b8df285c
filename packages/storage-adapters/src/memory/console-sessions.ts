import type { ConsoleSessionStore } from '@rialto-exchange/core';
import { copy } from './copies.js';
import type { MemoryState } from './state.js';

export function memoryConsoleSessions({ consoleSessions }: MemoryState): ConsoleSessionStore {
  // Sessions nobody signs out of would otherwise accumulate for the life of the process.
  function sweep(now: number): void {
    for (const [hash, session] of consoleSessions) if (session.expiresAt <= now) consoleSessions.delete(hash);
  }

  return {
    async saveConsoleSession(record) {
      sweep(record.createdAt);
      consoleSessions.set(record.sessionHash, copy(record));
    },

    async getConsoleSession(sessionHash, now) {
      const session = consoleSessions.get(sessionHash);
      if (!session || session.expiresAt <= now) return null;
      return copy(session);
    },

    async deleteConsoleSession(sessionHash) {
      return consoleSessions.delete(sessionHash);
    },
  };
}
