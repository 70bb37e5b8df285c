import { memoryStore } from '@rialto-exchange/storage-adapters';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  jwtVerify,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  SERVICE_ISSUER,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

// Instances reload keys every second, so a rotated-in key may sign one second after it is published.
const FAST_ROTATION = { signingKeyPrepublishSeconds: 1, signingKeyReloadIntervalSeconds: 1 };

/** Keys are ordered by whole seconds, so a key rotated in right after the first one activates a second later. */
async function untilActive(activatesAt: number) {
  const waitMs = activatesAt * 1000 - Date.now();
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs + 50));
}

describe('signing key rotation', () => {
  let idp: LocalIssuer;
  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());

  async function signIn(t: TestApp, apiKey: string) {
    const response = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expect(response.status).toBe(200);
    return response.body as { access_token: string; refresh_token: string };
  }
  const jwks = async (t: TestApp) =>
    (await request(t.app).get('/.well-known/jwks.json')).body as { keys: Array<{ kid: string }> };
  const kidOf = (token: string) => decodeProtectedHeader(token).kid;
  const getMe = (t: TestApp, token: string, userId: string) =>
    request(t.app).get(`/identity/users/${userId}`).set('authorization', `Bearer ${token}`);

  it('signs with the new key and keeps tokens signed by the old one verifiable', async () => {
    const t = createTestApp(FAST_ROTATION);
    const rotations: unknown[] = [];
    t.router.exchange.audit.on('signing_key.rotated', (payload) => void rotations.push(payload));
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const before = await signIn(t, apiKey);

    const rotated = await t.router.exchange.rotateSigningKey();
    expect(rotations).toEqual([{ use: 'access_token', kid: rotated.kid }]);
    await untilActive(rotated.activatesAt);
    const after = await signIn(t, apiKey);

    expect(kidOf(after.access_token)).toBe(rotated.kid);
    expect(kidOf(before.access_token)).not.toBe(rotated.kid);
    const published = await jwks(t);
    expect(published.keys.map((k) => k.kid).sort()).toEqual([kidOf(before.access_token), rotated.kid].sort());

    // Both verify for an outside consumer using the published JWKS, and through the service itself.
    const keySet = createLocalJWKSet(published as never);
    for (const token of [before.access_token, after.access_token]) {
      const { payload } = await jwtVerify(token, keySet, { issuer: SERVICE_ISSUER });
      expect((await getMe(t, token, payload.user_id as string)).status).toBe(200);
    }
  });

  it('publishes a rotated-in key before it signs', async () => {
    const t = createTestApp({ signingKeyPrepublishSeconds: 3600 });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const before = await signIn(t, apiKey);
    const rotated = await t.router.exchange.rotateSigningKey();
    expect(rotated.activatesAt - Math.floor(Date.now() / 1000)).toBeGreaterThan(3590);
    expect((await jwks(t)).keys.map((k) => k.kid)).toContain(rotated.kid);
    expect(kidOf((await signIn(t, apiKey)).access_token)).toBe(kidOf(before.access_token));
  });

  it('rotates the refresh secret while refresh tokens issued before keep working', async () => {
    const t = createTestApp(FAST_ROTATION);
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const before = await signIn(t, apiKey);
    const rotated = await t.router.exchange.rotateSigningKey('refresh_token');
    await untilActive(rotated.activatesAt);
    const refreshed = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: before.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(kidOf(refreshed.body.refresh_token)).toBe(rotated.kid);
    expect(kidOf(before.refresh_token)).not.toBe(rotated.kid);
    // The refresh secret is never published.
    expect((await jwks(t)).keys.map((k) => k.kid)).not.toContain(rotated.kid);
  });

  it('refuses a prepublish delay shorter than the key reload interval at start-up', () => {
    expect(() => createTestApp({ signingKeyPrepublishSeconds: 30 })).toThrow(
      new TypeError(
        'createRialtoExchange: `signingKeyPrepublishSeconds` must be at least `signingKeyReloadIntervalSeconds` (60), so every instance loads a new key before it signs',
      ),
    );
    expect(() =>
      createTestApp({ signingKeyPrepublishSeconds: 0, signingKeyReloadIntervalSeconds: 1 }),
    ).toThrow(TypeError);
  });

  describe('two instances on one store', () => {
    async function rotatedOnA(optionsOfB: Parameters<typeof createTestApp>[0]) {
      const shared = memoryStore();
      const a = createTestApp({ ...FAST_ROTATION, store: recordingStore(shared) });
      const b = createTestApp({ ...optionsOfB, store: recordingStore(shared) });
      const { apiKey } = await registerOrganization(a.app, { name: 'Acme', issuer: idp.issuer });
      // B has loaded its keys and then sits idle through the rotation.
      const oldKid = (await jwks(b)).keys[0]?.kid;
      const [access, refresh] = await Promise.all([
        a.router.exchange.rotateSigningKey('access_token'),
        a.router.exchange.rotateSigningKey('refresh_token'),
      ]);
      await untilActive(Math.max(access.activatesAt, refresh.activatesAt));
      const tokens = await signIn(a, apiKey);
      expect([kidOf(tokens.access_token), kidOf(tokens.refresh_token)]).toEqual([access.kid, refresh.kid]);
      return { b, tokens, oldKid, newKid: access.kid };
    }

    async function expectAccepted(b: TestApp, tokens: { access_token: string; refresh_token: string }) {
      const userId = decodeJwt(tokens.access_token).user_id as string;
      expect((await getMe(b, tokens.access_token, userId)).status).toBe(200);
      const refreshed = await request(b.app)
        .post('/identity/auth/refresh')
        .send({ refresh_token: tokens.refresh_token });
      expect(refreshed.status).toBe(200);
    }

    it('an instance idle since before a rotation accepts the first tokens signed with the new keys and publishes the new key', async () => {
      const { b, tokens, oldKid, newKid } = await rotatedOnA(FAST_ROTATION);
      await expectAccepted(b, tokens);
      expect((await jwks(b)).keys.map((key) => key.kid).sort()).toEqual([oldKid, newKid].sort());
    });

    it('an instance that would not reload for an hour reloads once when it meets a kid of its own service it does not know', async () => {
      const hourly = { signingKeyPrepublishSeconds: 3600, signingKeyReloadIntervalSeconds: 3600 };
      const { b, tokens } = await rotatedOnA(hourly);
      await expectAccepted(b, tokens);
    });
  });

  it('answers a refresh retried across a refresh-secret rotation with the same bytes, signed by the secret it was issued under', async () => {
    const t = createTestApp(FAST_ROTATION);
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const before = await signIn(t, apiKey);
    const refresh = () =>
      request(t.app).post('/identity/auth/refresh').send({ refresh_token: before.refresh_token });
    const answered = await refresh();
    const rotated = await t.router.exchange.rotateSigningKey('refresh_token');
    await untilActive(rotated.activatesAt);

    const retried = await refresh();
    expect(retried.status).toBe(200);
    expect(retried.body.refresh_token).toBe(answered.body.refresh_token);
    expect(kidOf(retried.body.refresh_token)).not.toBe(rotated.kid);
  });

  it('publishes every host-supplied key and signs with the first', async () => {
    const [current, previous] = await Promise.all([
      generateKeyPair('RS256', { extractable: true }),
      generateKeyPair('RS256', { extractable: true }),
    ]);
    const previousJwk = { ...(await exportJWK(previous.privateKey)), kid: 'previous' };
    const t = createTestApp({ accessTokenKey: [await exportPKCS8(current.privateKey), previousJwk] });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const tokens = await signIn(t, apiKey);
    const kids = (await jwks(t)).keys.map((k) => k.kid);
    expect(kids).toHaveLength(2);
    expect(kids).toContain('previous');
    expect(kidOf(tokens.access_token)).toBe(kids.find((kid) => kid !== 'previous'));
    await expect(t.router.exchange.rotateSigningKey()).rejects.toThrow(/supplied by the host/);
  });
});
