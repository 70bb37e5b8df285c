import { describe, expect, it } from 'vitest';
import type { SigningKeyRecord, SigningKeyUse, Store } from '../store/store.js';
import { createSigningKeys, keySchedule } from './signing-keys.js';

const key = (kid: string, createdAt: number): SigningKeyRecord => ({
  kid,
  use: 'access_token',
  alg: 'RS256',
  privateJwk: { kty: 'RSA' },
  createdAt,
});
const kids = (records: SigningKeyRecord[]) => records.map((record) => record.kid);

describe('keySchedule', () => {
  const prepublish = 60;
  const retiredLifetime = 330; // 300 s tokens + 30 s tolerance

  it('signs with the only key at once, however new', () => {
    const schedule = keySchedule([key('first', 1000)], 1000, prepublish, retiredLifetime);
    expect(schedule.signing.kid).toBe('first');
    expect(kids(schedule.verifying)).toEqual(['first']);
  });

  it('publishes a rotated-in key before it signs', () => {
    const keys = [key('new', 2000), key('old', 1000)];
    const schedule = keySchedule(keys, 2030, prepublish, retiredLifetime);
    expect(schedule.signing.kid).toBe('old');
    expect(kids(schedule.verifying)).toEqual(['new', 'old']);
  });

  it('signs with the new key once the prepublish delay has passed, keeping the old one verifiable', () => {
    const keys = [key('new', 2000), key('old', 1000)];
    const schedule = keySchedule(keys, 2060, prepublish, retiredLifetime);
    expect(schedule.signing.kid).toBe('new');
    expect(kids(schedule.verifying)).toEqual(['new', 'old']);
  });

  it('drops a retired key once every token it signed has expired', () => {
    const keys = [key('new', 2000), key('old', 1000)];
    expect(kids(keySchedule(keys, 2060 + 329, prepublish, retiredLifetime).verifying)).toEqual([
      'new',
      'old',
    ]);
    expect(kids(keySchedule(keys, 2060 + 330, prepublish, retiredLifetime).verifying)).toEqual(['new']);
  });

  it('measures each retirement from its successor, across several rotations', () => {
    const keys = [key('c', 3000), key('b', 2000), key('a', 1000)];
    const schedule = keySchedule(keys, 2300, prepublish, retiredLifetime);
    expect(schedule.signing.kid).toBe('b');
    // a retired at 2060 and is still within its lifetime; c is pre-published.
    expect(kids(schedule.verifying)).toEqual(['c', 'b', 'a']);
    // c signs from 3060; b, retired then, stays; a expired at 2390.
    expect(kids(keySchedule(keys, 3100, prepublish, retiredLifetime).verifying)).toEqual(['c', 'b']);
  });
});

describe('createSigningKeys', () => {
  /** Just the signing-key methods of a store, counting reads. */
  function signingKeyStore() {
    const records: SigningKeyRecord[] = [];
    const counts = { reads: 0 };
    const store = {
      async listSigningKeys(use: SigningKeyUse) {
        counts.reads++;
        return records.filter((record) => record.use === use).sort((a, b) => b.createdAt - a.createdAt);
      },
      async ensureSigningKey(record: SigningKeyRecord) {
        if (!records.some((existing) => existing.use === record.use)) records.push(record);
      },
      async addSigningKey(record: SigningKeyRecord) {
        records.push(record);
      },
    } as unknown as Store;
    return { store, counts };
  }

  const options = (store: Store) =>
    createSigningKeys({
      store,
      accessTokenAlgorithm: 'ES256',
      reloadIntervalSeconds: 3600,
      prepublishSeconds: 3600,
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 1800,
      clockToleranceSeconds: 30,
    });

  it('reloads once for many concurrent unknown kids, then not again within a second', async () => {
    const { store, counts } = signingKeyStore();
    const keys = options(store);
    await keys.load();
    counts.reads = 0;

    await Promise.all(Array.from({ length: 50 }, (_, i) => keys.loadKnowing('access_token', `forged-${i}`)));
    expect(counts.reads).toBe(2); // one reload: the access and the refresh list
    await keys.loadKnowing('refresh_token', 'forged-again');
    expect(counts.reads).toBe(2);
  });

  it('finds a key another instance added when a token names it', async () => {
    const { store } = signingKeyStore();
    const keys = options(store);
    const other = options(store);
    await keys.load();
    const rotated = await other.rotate('refresh_token');

    expect((await keys.load()).refreshSecretsByKid.has(rotated.kid)).toBe(false);
    expect((await keys.loadKnowing('refresh_token', rotated.kid)).refreshSecretsByKid.has(rotated.kid)).toBe(
      true,
    );
  });
});
