import { createHash, randomUUID } from 'node:crypto';
import type { ConsoleSessionRecord } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { nowSeconds } from './fixtures.js';

function session(overrides: Partial<ConsoleSessionRecord> = {}): ConsoleSessionRecord {
  const now = nowSeconds();
  return {
    sessionHash: createHash('sha256').update(randomUUID()).digest('hex'),
    credentialFingerprint: `admin_token:${randomUUID()}`,
    createdAt: now,
    expiresAt: now + 3600,
    ...overrides,
  };
}

/** Console sessions: by hash, invisible once expired, ended everywhere by a delete. */
export function describeConsoleSessions({ freshStore }: SuiteContext): void {
  describe('console sessions', () => {
    it('saves a session, reads it back until its expiry, and not from then on', async () => {
      const store = await freshStore();
      const saved = session();
      await store.saveConsoleSession(saved);
      expect(await store.getConsoleSession(saved.sessionHash, saved.createdAt)).toEqual(saved);
      expect(await store.getConsoleSession(saved.sessionHash, saved.expiresAt - 1)).toEqual(saved);
      expect(await store.getConsoleSession(saved.sessionHash, saved.expiresAt)).toBeNull();
      expect(await store.getConsoleSession(session().sessionHash, saved.createdAt)).toBeNull();
    });

    it('ends a session with deleteConsoleSession: true once, then false, and it reads as absent', async () => {
      const store = await freshStore();
      const ended = session();
      const kept = session();
      for (const record of [ended, kept]) await store.saveConsoleSession(record);
      expect(await store.deleteConsoleSession(ended.sessionHash)).toBe(true);
      expect(await store.deleteConsoleSession(ended.sessionHash)).toBe(false);
      expect(await store.getConsoleSession(ended.sessionHash, ended.createdAt)).toBeNull();
      expect(await store.getConsoleSession(kept.sessionHash, kept.createdAt)).toEqual(kept);
    });

    it('replaces a session saved again under the same hash, and keeps no reference to the record', async () => {
      const store = await freshStore();
      const first = session();
      await store.saveConsoleSession(first);
      const replaced = { ...first, credentialFingerprint: 'host:sso|alice', expiresAt: first.expiresAt + 60 };
      await store.saveConsoleSession(replaced);
      replaced.credentialFingerprint = 'changed after saving';
      expect(await store.getConsoleSession(first.sessionHash, first.createdAt)).toEqual({
        ...first,
        credentialFingerprint: 'host:sso|alice',
        expiresAt: first.expiresAt + 60,
      });
    });

    it('drops expired sessions on its own: a long-expired one never reads back', async () => {
      const store = await freshStore();
      const now = nowSeconds();
      const expired = session({ createdAt: now - 7200, expiresAt: now - 3600 });
      await store.saveConsoleSession(expired);
      await store.saveConsoleSession(session());
      expect(await store.getConsoleSession(expired.sessionHash, now)).toBeNull();
    });
  });
}
