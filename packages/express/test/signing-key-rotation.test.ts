import {
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  jwtVerify,
} from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  SERVICE_ISSUER,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

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
    const t = createTestApp({ signingKeyPrepublishSeconds: 0 });
    const rotations: unknown[] = [];
    t.router.exchange.on('signing_key.rotated', (payload) => void rotations.push(payload));
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
    const t = createTestApp({ signingKeyPrepublishSeconds: 0 });
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

  it('answers a refresh retried across a refresh-secret rotation with the same bytes, signed by the secret it was issued under', async () => {
    const t = createTestApp({ signingKeyPrepublishSeconds: 0 });
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
