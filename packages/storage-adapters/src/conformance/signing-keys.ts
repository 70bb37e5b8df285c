import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { signingKey } from './fixtures.js';

export function describeSigningKeys({ freshStore }: SuiteContext): void {
  describe('signing keys', () => {
    it('listSigningKeys returns [] on an empty store', async () => {
      const store = await freshStore();

      expect(await store.listSigningKeys('access_token')).toEqual([]);
      expect(await store.listSigningKeys('refresh_token')).toEqual([]);
    });

    it('ensureSigningKey stores the candidate when no key exists for its use and returns it', async () => {
      const store = await freshStore();
      const candidate = signingKey('access_token');

      expect(await store.ensureSigningKey(candidate)).toEqual(candidate);
      expect(await store.listSigningKeys('access_token')).toEqual([candidate]);
    });

    it('ensureSigningKey keeps the stored key and returns it instead of the candidate', async () => {
      const store = await freshStore();
      const stored = signingKey('access_token');
      await store.ensureSigningKey(stored);

      expect(
        await store.ensureSigningKey(signingKey('access_token', { createdAt: stored.createdAt + 60 })),
      ).toEqual(stored);
      expect(await store.listSigningKeys('access_token')).toEqual([stored]);
    });

    it('signing keys are kept per use: a key for one use does not satisfy ensureSigningKey for the other', async () => {
      const store = await freshStore();
      const access = signingKey('access_token');
      const refresh = signingKey('refresh_token');

      await store.ensureSigningKey(access);

      expect(await store.ensureSigningKey(refresh)).toEqual(refresh);
      expect(await store.listSigningKeys('access_token')).toEqual([access]);
      expect(await store.listSigningKeys('refresh_token')).toEqual([refresh]);
    });

    it('listSigningKeys lists newest createdAt first and ensureSigningKey returns the newest', async () => {
      const store = await freshStore();
      const oldest = signingKey('access_token', { createdAt: 1_700_000_000 });
      const newest = signingKey('access_token', { createdAt: 1_700_000_200 });
      const middle = signingKey('access_token', { createdAt: 1_700_000_100 });
      await store.ensureSigningKey(oldest);

      await store.addSigningKey(newest);
      await store.addSigningKey(middle);

      expect(await store.listSigningKeys('access_token')).toEqual([newest, middle, oldest]);
      expect(await store.ensureSigningKey(signingKey('access_token'))).toEqual(newest);
    });

    it('addSigningKey leaves a stored key with the same kid unchanged', async () => {
      const store = await freshStore();
      const stored = signingKey('refresh_token');
      await store.addSigningKey(stored);

      await store.addSigningKey({ ...stored, alg: 'HS512', privateJwk: { kty: 'oct', k: 'replaced' } });

      expect(await store.listSigningKeys('refresh_token')).toEqual([stored]);
    });

    it('signing keys are copied in and out: mutating a record never changes the store', async () => {
      const store = await freshStore();
      const key = signingKey('access_token');
      const snapshot = structuredClone(key);
      await store.ensureSigningKey(key);

      key.privateJwk.d = 'mutated';
      const listed = (await store.listSigningKeys('access_token'))[0] ?? expect.unreachable();
      listed.privateJwk.d = 'mutated';
      const ensured = await store.ensureSigningKey(signingKey('access_token'));
      ensured.kid = 'mutated';

      expect(await store.listSigningKeys('access_token')).toEqual([snapshot]);
    });
  });
}
