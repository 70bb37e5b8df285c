import { exportJWK, generateKeyPair } from 'jose';
import Keyv from 'keyv';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

// The default description: nothing about the upstream failure reaches the client.
const DISCOVERY_FAILED = /^The issuer's OpenID configuration or key set could not be retrieved\.$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let idp: LocalIssuer;
beforeAll(async () => {
  idp = await startLocalIssuer();
});
afterAll(() => idp.close());
beforeEach(() => {
  idp.behaviour = 'ok';
  idp.counts = { discovery: 0, jwks: 0, other: 0 };
});
const token = () => idp.sign(idTokenClaims(idp.issuer));

describe('resilience to an unreachable IdP', () => {
  it('keeps verifying with the last good keys while the IdP is down, for a bounded time', async () => {
    const options = { discoveryCacheTtlSeconds: 1, remoteFailureBackoffSeconds: 0 };
    const tolerant = createTestApp({ ...options, staleIfErrorSeconds: 60 });
    const strict = createTestApp({ ...options, staleIfErrorSeconds: 0.5 });
    const keys = await Promise.all(
      [tolerant, strict].map(
        async (t) => (await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer })).apiKey,
      ),
    );
    expect((await exchange(tolerant.app, keys[0], { token: await token() })).status).toBe(200);
    expect((await exchange(strict.app, keys[1], { token: await token() })).status).toBe(200);

    idp.behaviour = 'down';
    await sleep(1600);
    expect((await exchange(tolerant.app, keys[0], { token: await token() })).status).toBe(200);
    expectFailsWith(
      await exchange(strict.app, keys[1], { token: await token() }),
      502,
      'discovery_failed',
      DISCOVERY_FAILED,
    );
    expect(idp.counts.discovery).toBeGreaterThanOrEqual(4);
  });

  it('does not ask a failing IdP again on every request during the backoff', async () => {
    const t = createTestApp({ remoteFailureBackoffSeconds: 30 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    idp.behaviour = 'down';
    for (let i = 0; i < 5; i++)
      expectFailsWith(
        await exchange(t.app, apiKey, { token: await token() }),
        502,
        'discovery_failed',
        DISCOVERY_FAILED,
      );
    expect(idp.counts).toEqual({ discovery: 1, jwks: 0, other: 0 });
  });

  it('asks again after the backoff and recovers by itself', async () => {
    const t = createTestApp({ remoteFailureBackoffSeconds: 0.2 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    idp.behaviour = 'down';
    expectFailsWith(
      await exchange(t.app, apiKey, { token: await token() }),
      502,
      'discovery_failed',
      DISCOVERY_FAILED,
    );
    idp.behaviour = 'ok';
    await sleep(300);
    expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);
  });

  it('shares discovery documents and key sets across instances through a Keyv cache', async () => {
    const [sharedDocumentCache, store] = [new Keyv(), recordingStore()];
    const [a, b] = [
      createTestApp({ sharedDocumentCache, store }),
      createTestApp({ sharedDocumentCache, store }),
    ];
    const org = await registerOrganization(a.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(a.app, org.apiKey, { token: await token() })).status).toBe(200);
    expect((await exchange(b.app, org.apiKey, { token: await token() })).status).toBe(200);
    expect(idp.counts).toEqual({ discovery: 1, jwks: 1, other: 0 });
  });

  it('bypasses the shared cache when a token names a kid the cached key set lacks', async () => {
    const shared = new Keyv();
    const t = createTestApp({ sharedDocumentCache: shared, unknownKidCooldownSeconds: 0 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const forged = await idp.sign(idTokenClaims(idp.issuer), { kid: 'not-published' });
    expectFailsWith(await exchange(t.app, apiKey, { token: forged }), 401, 'invalid_signature');
    expect(idp.counts.jwks).toBe(2);
  });

  it('still works when the shared cache fails', async () => {
    const broken = {
      get: async () => {
        throw new Error('redis down');
      },
      set: async () => {
        throw new Error('redis down');
      },
    };
    const t = createTestApp({ sharedDocumentCache: broken });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);
  });
});

describe('stale-while-revalidate with a slow IdP', () => {
  it('answers from the expired cache at once while one background refresh per issuer waits on the IdP', async () => {
    const slow = await startLocalIssuer();
    try {
      // A fetch deadline far beyond the test's own timeout: an exchange that waited on the IdP
      // could not finish while the IdP holds its requests.
      const t = createTestApp({ discoveryCacheTtlSeconds: 0.2, fetchTimeoutMs: 120_000 });
      const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: slow.issuer });
      const token = () => slow.sign(idTokenClaims(slow.issuer));
      expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);
      expect(slow.counts).toEqual({ discovery: 1, jwks: 1, other: 0 });

      await sleep(300);
      slow.behaviour = 'hang';
      const first = await Promise.all(
        Array.from({ length: 10 }, async () => exchange(t.app, apiKey, { token: await token() })),
      );
      expect(first.map((response) => response.status)).toEqual(Array(10).fill(200));
      // The refreshes reached the IdP and are still unanswered: no exchange waited for them.
      await vi.waitFor(() => expect(slow.counts).toEqual({ discovery: 2, jwks: 2, other: 0 }));
      expect(slow.held).toBe(2);

      const second = await Promise.all(
        Array.from({ length: 10 }, async () => exchange(t.app, apiKey, { token: await token() })),
      );
      expect(second.map((response) => response.status)).toEqual(Array(10).fill(200));
      expect(slow.counts).toEqual({ discovery: 2, jwks: 2, other: 0 });
      expect(slow.held).toBe(2);
    } finally {
      await slow.close();
    }
  });

  it('waits for the IdP once the cache is older than staleIfErrorSeconds', async () => {
    const t = createTestApp({ discoveryCacheTtlSeconds: 0.2, staleIfErrorSeconds: 0.1, fetchTimeoutMs: 300 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);
    await sleep(400);
    idp.behaviour = 'hang';
    expectFailsWith(
      await exchange(t.app, apiKey, { token: await token() }),
      502,
      'discovery_failed',
      DISCOVERY_FAILED,
    );
  });
});

describe('unknown kids while the IdP fails', () => {
  const fresh = async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: 'rotated-in', alg: 'ES256' } };
  };

  it('answers 502 discovery_failed, not 401, for a genuine new kid while the JWKS is down, and recovers', async () => {
    const t = createTestApp({ unknownKidCooldownSeconds: 0.5, remoteFailureBackoffSeconds: 0 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);
    await sleep(600);

    const rotated = await fresh();
    const newKidToken = await idp.sign(idTokenClaims(idp.issuer), {
      alg: 'ES256',
      kid: 'rotated-in',
      key: rotated.privateKey,
    });
    idp.behaviour = 'down';
    t.store.resetWrites();
    // The refetch fails, then the cooldown after that failure runs: both are retryable.
    for (let i = 0; i < 3; i++) {
      expectFailsWith(
        await exchange(t.app, apiKey, { token: newKidToken }),
        502,
        'discovery_failed',
        DISCOVERY_FAILED,
      );
    }
    expect(t.store.writes).toEqual([]);
    // Tokens with known kids keep working from the cached key set meanwhile.
    expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);

    idp.behaviour = 'ok';
    idp.extraPublicKeys = [rotated.publicJwk];
    try {
      await sleep(600);
      expect((await exchange(t.app, apiKey, { token: newKidToken })).status).toBe(200);
    } finally {
      idp.extraPublicKeys = [];
    }
  });

  it('answers 502 within the fetch deadline when the IdP does not answer the refetch', async () => {
    const t = createTestApp({ unknownKidCooldownSeconds: 0.1, fetchTimeoutMs: 300 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);
    await sleep(200);
    idp.behaviour = 'hang';
    const unknown = await idp.sign(idTokenClaims(idp.issuer), { kid: 'never-published' });
    expectFailsWith(
      await exchange(t.app, apiKey, { token: unknown }),
      502,
      'discovery_failed',
      DISCOVERY_FAILED,
    );
  });

  it('holds the unknown-kid cooldown after a failed refetch: one JWKS request for a flood of random kids', async () => {
    const t = createTestApp({ unknownKidCooldownSeconds: 1, remoteFailureBackoffSeconds: 0 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);
    await sleep(1100);
    idp.behaviour = 'down';
    t.store.resetWrites();
    for (let i = 0; i < 8; i++) {
      const forged = await idp.sign(idTokenClaims(idp.issuer), { kid: `random-${i}` });
      expectFailsWith(
        await exchange(t.app, apiKey, { token: forged }),
        502,
        'discovery_failed',
        DISCOVERY_FAILED,
      );
    }
    expect(idp.counts).toEqual({ discovery: 1, jwks: 2, other: 0 });
    expect(t.store.writes).toEqual([]);
  });

  it('shares the cooldown across instances through sharedDocumentCache', async () => {
    const [sharedDocumentCache, store] = [new Keyv(), recordingStore()];
    const options = { sharedDocumentCache, store, unknownKidCooldownSeconds: 1 };
    const [a, b] = [createTestApp(options), createTestApp(options)];
    const { apiKey } = await registerOrganization(a.app, { name: 'Acme', issuer: idp.issuer });
    for (const instance of [a, b]) {
      expect((await exchange(instance.app, apiKey, { token: await token() })).status).toBe(200);
    }
    expect(idp.counts).toEqual({ discovery: 1, jwks: 1, other: 0 });
    await sleep(1100);

    for (let i = 0; i < 8; i++) {
      const forged = await idp.sign(idTokenClaims(idp.issuer), { kid: `random-${i}` });
      const instance = i % 2 === 0 ? a : b;
      expectFailsWith(await exchange(instance.app, apiKey, { token: forged }), 401, 'invalid_signature');
    }
    expect(idp.counts).toEqual({ discovery: 1, jwks: 2, other: 0 });
  });
});
