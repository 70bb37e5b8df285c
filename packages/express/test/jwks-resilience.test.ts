import Keyv from 'keyv';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('resilience to an unreachable IdP', () => {
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
    expectFailsWith(await exchange(strict.app, keys[1], { token: await token() }), 502, 'discovery_failed');
    expect(idp.counts.discovery).toBeGreaterThanOrEqual(4);
  });

  it('does not ask a failing IdP again on every request during the backoff', async () => {
    const t = createTestApp({ remoteFailureBackoffSeconds: 30 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    idp.behaviour = 'down';
    for (let i = 0; i < 5; i++)
      expectFailsWith(await exchange(t.app, apiKey, { token: await token() }), 502, 'discovery_failed');
    expect(idp.counts).toEqual({ discovery: 1, jwks: 0, other: 0 });
  });

  it('asks again after the backoff and recovers by itself', async () => {
    const t = createTestApp({ remoteFailureBackoffSeconds: 0.2 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    idp.behaviour = 'down';
    expectFailsWith(await exchange(t.app, apiKey, { token: await token() }), 502, 'discovery_failed');
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
