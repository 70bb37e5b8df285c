import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storeFromUrl } from './store-from-url.js';

describe('storeFromUrl', () => {
  it('opens a memory store', async () => {
    const store = storeFromUrl('memory:');
    expect(await store.getOrganization('00000000-0000-4000-8000-000000000000')).toBeNull();
    await store.close();
  });

  it('opens a SQLite file and keeps data across reopenings', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'rialto-url-'));
    try {
      const url = `sqlite:${join(directory, 'rialto.db')}`;
      const first = storeFromUrl(url);
      const record = {
        kid: 'k1',
        use: 'access_token' as const,
        alg: 'RS256',
        privateJwk: { kty: 'RSA' },
        createdAt: 1,
      };
      await first.ensureSigningKey(record);
      await first.close();
      const second = storeFromUrl(url);
      expect((await second.listSigningKeys('access_token')).map((key) => key.kid)).toEqual(['k1']);
      await second.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it.each(['http://example.com', 'ftp://x', 'postgres', 'mongodb://user:hunter2@db/x'])(
    'refuses %s without echoing it',
    (url) => {
      expect(() => storeFromUrl(url)).toThrow(TypeError);
      try {
        storeFromUrl(url);
      } catch (error) {
        expect(String(error)).not.toContain('hunter2');
      }
    },
  );
});
