import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/index.js';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

/** A memory store that lists every method called on it, in order. */
function countingStore(): { store: Store; calls: string[] } {
  const inner = memoryStore();
  const calls: string[] = [];
  const store = {} as Record<string, unknown>;
  for (let level: object | null = inner; level !== null && level !== Object.prototype; ) {
    for (const name of Object.getOwnPropertyNames(level)) {
      const method = (inner as unknown as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof method !== 'function' || name in store) continue;
      store[name] = (...args: unknown[]) => {
        calls.push(name);
        return (method as (...a: unknown[]) => unknown).apply(inner, args);
      };
    }
    level = Object.getPrototypeOf(level);
  }
  return { store: store as unknown as Store, calls };
}

/**
 * Pins the store calls of an exchange and a refresh (counted with a memory store): a second read of
 * the same organization or issuer within one request, or a cached record read again, shows here.
 */
describe('store calls of one exchange', () => {
  let idp: LocalIssuer;
  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());

  it('reads the key, the org and its issuers once, and nothing again once cached', async () => {
    const counting = countingStore();
    const t = createTestApp({ store: recordingStore(counting.store), rateLimit: false });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const token = await idp.sign(idTokenClaims(idp.issuer));
    counting.calls.length = 0;
    // The first exchange warms the caches (key, org, issuers, signing keys); the second is steady state.
    const first = await exchange(t.app, apiKey, { token });
    expect(first.status).toBe(200);
    // Cold caches: the key, its org and the org's issuers are each read once (and the signing keys created).
    const reads = counting.calls.filter((name) => !/SigningKey/.test(name));
    expect(reads).toEqual([
      'listActiveApiKeys',
      'getOrganization',
      'findIssuerRegistrations',
      'findOrCreateUser',
      'saveRefreshToken',
    ]);
    counting.calls.length = 0;
    const refreshed = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: first.body.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(counting.calls).toEqual(['rotateRefreshToken', 'getUser']);
    counting.calls.length = 0;
    const second = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expect(second.status).toBe(200);
    // Warm: the user and the new refresh token, nothing read again.
    expect(counting.calls).toEqual(['findOrCreateUser', 'saveRefreshToken']);
  });
});
