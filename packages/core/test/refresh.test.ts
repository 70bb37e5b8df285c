import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  SERVICE_ISSUER,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

describe('refresh and revoke', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let apiKey: string;
  const events: Array<[string, unknown]> = [];

  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());

  beforeEach(async () => {
    t = createTestApp();
    events.length = 0;
    for (const type of ['refresh.succeeded', 'refresh.reuse_detected', 'refresh.revoked'] as const) {
      t.router.exchange.audit.on(type, (payload) => {
        events.push([type, payload]);
      });
    }
    ({ apiKey } = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: idp.issuer,
      audience: ['primary-issuance'],
    }));
  });

  async function signIn() {
    const response = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expect(response.status).toBe(200);
    return response.body as { access_token: string; refresh_token: string };
  }
  const refresh = (body: unknown) =>
    request(t.app)
      .post('/identity/auth/refresh')
      .send(body as object);
  const revoke = (body: unknown) =>
    request(t.app)
      .post('/identity/auth/revoke')
      .send(body as object);

  /** Signs a refresh token with the service's own stored secret, to reach checks past the signature. */
  async function forgeWithServiceSecret(claims: Record<string, unknown>) {
    const [secret] = await t.store.listSigningKeys('refresh_token');
    const key = Buffer.from(secret?.privateJwk.k as string, 'base64url');
    return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: secret?.kid, typ: 'JWT' }).sign(key);
  }

  it('trades a refresh token for a new pair in the documented shape', async () => {
    const first = await signIn();
    const response = await refresh({ refresh_token: first.refresh_token });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      refresh_expires_in: 1800,
      scope: 'openid email profile aud:identity aud:primary-issuance',
    });
    expect(response.body.refresh_token).not.toBe(first.refresh_token);
    const [before, after] = [decodeJwt(first.access_token), decodeJwt(response.body.access_token)];
    expect(after.user_id).toBe(before.user_id);
    expect(after.jti).not.toBe(before.jti);
    expect(decodeJwt(response.body.refresh_token).fid).toBe(decodeJwt(first.refresh_token).fid);
    expect(events.map(([type]) => type)).toEqual(['refresh.succeeded']);
  });

  it('answers a retry of a used refresh token within the grace window with the same new refresh token', async () => {
    const first = await signIn();
    const answered = await refresh({ refresh_token: first.refresh_token });
    const retried = await refresh({ refresh_token: first.refresh_token });

    expect(retried.status).toBe(200);
    expect(retried.body.refresh_token).toBe(answered.body.refresh_token);
    expect(retried.body.refresh_expires_in).toBeLessThanOrEqual(1800);
    expect(decodeJwt(retried.body.access_token).jti).not.toBe(decodeJwt(answered.body.access_token).jti);
    expect((await refresh({ refresh_token: answered.body.refresh_token })).status).toBe(200);
    expect(events.map(([type]) => type)).toEqual([
      'refresh.succeeded',
      'refresh.succeeded',
      'refresh.succeeded',
    ]);
  });

  it('refuses a used refresh token with invalid_grant once its successor was used, and revokes its whole family', async () => {
    const first = await signIn();
    const second = (await refresh({ refresh_token: first.refresh_token })).body;
    const third = (await refresh({ refresh_token: second.refresh_token })).body;
    const replay = await refresh({ refresh_token: first.refresh_token });
    expectFailsWith(replay, 400, 'invalid_grant', /already used/);
    // The legitimate holder's newer token dies too: the thief and the victim cannot be told apart.
    expectFailsWith(await refresh({ refresh_token: third.refresh_token }), 400, 'invalid_grant');
    const { fid, sub, org_id } = decodeJwt(first.refresh_token);
    expect(events).toContainEqual(['refresh.reuse_detected', { orgId: org_id, userId: sub, familyId: fid }]);
  });

  it('refuses a used refresh token after the grace window and revokes its family, successor included', async () => {
    const first = await signIn();
    const second = (await refresh({ refresh_token: first.refresh_token })).body;
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 11_000 });
    try {
      expectFailsWith(
        await refresh({ refresh_token: first.refresh_token }),
        400,
        'invalid_grant',
        /already used/,
      );
      expectFailsWith(await refresh({ refresh_token: second.refresh_token }), 400, 'invalid_grant');
    } finally {
      vi.useRealTimers();
    }
    expect(events.map(([type]) => type)).toEqual([
      'refresh.succeeded',
      'refresh.reuse_detected',
      'refresh.reuse_detected',
    ]);
  });

  it('with refreshTokenRetryGraceSeconds 0 takes any second use as reuse', async () => {
    t = createTestApp({ refreshTokenRetryGraceSeconds: 0 });
    ({ apiKey } = await registerOrganization(t.app, { name: 'Strict', issuer: idp.issuer }));
    const first = await signIn();
    const second = (await refresh({ refresh_token: first.refresh_token })).body;
    expectFailsWith(
      await refresh({ refresh_token: first.refresh_token }),
      400,
      'invalid_grant',
      /already used/,
    );
    expectFailsWith(await refresh({ refresh_token: second.refresh_token }), 400, 'invalid_grant');
  });

  it('answers 20 simultaneous refreshes with one token with one and the same new refresh token', async () => {
    const { refresh_token } = await signIn();
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh({ refresh_token })));
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
    expect(new Set(responses.map((response) => response.body.refresh_token)).size).toBe(1);
  });

  it('lets exactly one of 20 simultaneous refreshes with one token succeed when there is no grace window', async () => {
    t = createTestApp({ refreshTokenRetryGraceSeconds: 0 });
    ({ apiKey } = await registerOrganization(t.app, { name: 'Strict', issuer: idp.issuer }));
    const { refresh_token } = await signIn();
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh({ refresh_token })));
    expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
    for (const response of responses.filter((r) => r.status !== 200))
      expectFailsWith(response, 400, 'invalid_grant');
  });

  it('keeps other sessions of the same user alive when one family is revoked', async () => {
    const [mine, other] = [await signIn(), await signIn()];
    expect((await revoke({ refresh_token: mine.refresh_token })).status).toBe(200);
    expectFailsWith(await refresh({ refresh_token: mine.refresh_token }), 400, 'invalid_grant');
    expect((await refresh({ refresh_token: other.refresh_token })).status).toBe(200);
  });

  it('refuses an expired refresh token', async () => {
    const { refresh_token } = await signIn();
    const claims = decodeJwt(refresh_token);
    const expired = await forgeWithServiceSecret({
      ...claims,
      iat: (claims.iat as number) - 4000,
      exp: (claims.iat as number) - 2000,
    });
    expectFailsWith(await refresh({ refresh_token: expired }), 400, 'invalid_grant', /expired/);
  });

  it('refuses a tampered refresh token', async () => {
    const { refresh_token } = await signIn();
    const [header, , signature] = refresh_token.split('.');
    const payload = Buffer.from(
      JSON.stringify({ ...decodeJwt(refresh_token), sub: 'someone-else' }),
    ).toString('base64url');
    expectFailsWith(
      await refresh({ refresh_token: `${header}.${payload}.${signature}` }),
      400,
      'invalid_grant',
      /not valid/,
    );
  });

  it('refuses a refresh token signed with another secret', async () => {
    const { refresh_token } = await signIn();
    const [stored] = await t.store.listSigningKeys('refresh_token');
    const forged = await new SignJWT(decodeJwt(refresh_token))
      .setProtectedHeader({ alg: 'HS256', kid: stored?.kid })
      .sign(new TextEncoder().encode('an attacker secret that is long enough!!'));
    expectFailsWith(await refresh({ refresh_token: forged }), 400, 'invalid_grant');
  });

  it('refuses an access token presented as a refresh token', async () => {
    const { access_token } = await signIn();
    expectFailsWith(await refresh({ refresh_token: access_token }), 400, 'invalid_grant');
  });

  it('refuses a validly signed token the store never issued, and revokes its family', async () => {
    const { refresh_token } = await signIn();
    const claims = decodeJwt(refresh_token);
    const unknown = await forgeWithServiceSecret({ ...claims, jti: 'never-issued' });
    expectFailsWith(await refresh({ refresh_token: unknown }), 400, 'invalid_grant');
    expectFailsWith(await refresh({ refresh_token }), 400, 'invalid_grant');
  });

  it.each([
    ['no body', undefined],
    ['no refresh_token', {}],
    ['a refresh_token that is not a string', { refresh_token: 7 }],
  ])('answers invalid_request 400 for %s', async (_, body) => {
    expectFailsWith(await refresh(body), 400, 'invalid_request', /refresh_token/);
    expectFailsWith(await revoke(body), 400, 'invalid_request', /refresh_token/);
  });

  it('answers 200 to a revoke of an unknown or invalid token, revealing nothing', async () => {
    t.store.resetWrites();
    for (const token of ['garbage', 'a.b.c']) {
      const response = await revoke({ refresh_token: token });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({});
    }
    expect(t.store.writes).toEqual([]);
  });

  it("uses the organization's current audience on refresh", async () => {
    const { refresh_token } = await signIn();
    const orgId = decodeJwt(refresh_token).org_id as string;
    await request(t.app)
      .patch(`/identity/auth/idp/${orgId}`)
      .set('x-api-key', apiKey)
      .send({ audience: ['reporting'] });
    const response = await refresh({ refresh_token });
    expect(response.body.scope).toBe('openid email profile aud:identity aud:reporting');
    expect(decodeJwt(response.body.access_token)).toMatchObject({
      iss: SERVICE_ISSUER,
      aud: ['identity', 'reporting'],
    });
  });
});
