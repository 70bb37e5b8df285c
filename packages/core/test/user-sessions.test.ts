import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

describe("a user's identities and sessions", () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let apiKey: string;
  let orgId: string;

  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());

  beforeEach(async () => {
    t = createTestApp();
    ({ apiKey, orgId } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer }));
  });

  async function signIn(sub = 'ada') {
    const response = await exchange(t.app, apiKey, {
      token: await idp.sign(idTokenClaims(idp.issuer, { sub })),
    });
    expect(response.status).toBe(200);
    const body = response.body as { access_token: string; refresh_token: string };
    return { ...body, userId: decodeJwt(body.access_token).sub as string };
  }
  const asAdmin = (call: ReturnType<ReturnType<typeof request>['get']>) =>
    call.set('authorization', `Bearer ${ADMIN_TOKEN}`);

  it('lists the identity and the sessions of a user, ends one, and its refresh token is refused', async () => {
    const first = await signIn();
    const second = await signIn();
    expect(second.userId).toBe(first.userId);
    const path = `/identity/users/${first.userId}`;

    const identities = await request(t.app).get(`${path}/identities`).set('x-api-key', apiKey);
    expect(identities.status).toBe(200);
    expect(identities.body).toEqual({
      identities: [{ iss: idp.issuer, subject_claim: 'sub', sub: 'ada', linked_at: null }],
    });

    const sessions = await asAdmin(request(t.app).get(`${path}/sessions`));
    expect(sessions.status).toBe(200);
    const listed = sessions.body.sessions as Array<{
      session_id: string;
      last_refreshed_at: string;
      expires_at: string;
    }>;
    const familyOf = (refreshToken: string) => decodeJwt(refreshToken).fid as string;
    expect(listed.map((session) => session.session_id).sort()).toEqual(
      [familyOf(first.refresh_token), familyOf(second.refresh_token)].sort(),
    );
    for (const session of listed) expect(Date.parse(session.expires_at)).toBeGreaterThan(Date.now());

    const ended = await request(t.app)
      .delete(`${path}/sessions/${familyOf(first.refresh_token)}`)
      .set('x-api-key', apiKey);
    expect(ended.status).toBe(200);
    expect(ended.body).toEqual({ session_id: familyOf(first.refresh_token), ended: true });

    const refused = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: first.refresh_token });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    const stillLive = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: second.refresh_token });
    expect(stillLive.status).toBe(200);

    const endAll = await request(t.app).delete(`${path}/sessions`).set('x-api-key', apiKey);
    expect(endAll.status).toBe(200);
    expect(endAll.body).toEqual({ ended: 1 });
    const refreshedFamily = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: stillLive.body.refresh_token });
    expect(refreshedFamily.body.error).toBe('invalid_grant');
    expect((await asAdmin(request(t.app).get(`${path}/sessions`))).body).toEqual({ sessions: [] });
  });

  it("refuses an unknown user, another org's user or session, and a malformed session id", async () => {
    const ada = await signIn();
    const other = await registerOrganization(t.app, { name: 'Other', issuer: `${idp.issuer}/other` });
    const unknown = crypto.randomUUID();

    for (const suffix of ['identities', 'sessions']) {
      expectFailsWith(
        await request(t.app).get(`/identity/users/${unknown}/${suffix}`).set('x-api-key', apiKey),
        404,
        'not_found',
      );
      // Another org's API key cannot see that the user exists.
      expectFailsWith(
        await request(t.app).get(`/identity/users/${ada.userId}/${suffix}`).set('x-api-key', other.apiKey),
        404,
        'not_found',
      );
    }
    const family = decodeJwt(ada.refresh_token).fid as string;
    expectFailsWith(
      await request(t.app)
        .delete(`/identity/users/${ada.userId}/sessions/${family}`)
        .set('x-api-key', other.apiKey),
      404,
      'not_found',
    );
    expectFailsWith(
      await request(t.app).delete(`/identity/users/${ada.userId}/sessions`).set('x-api-key', other.apiKey),
      404,
      'not_found',
    );
    expectFailsWith(
      await request(t.app)
        .delete(`/identity/users/${ada.userId}/sessions/not-a-session`)
        .set('x-api-key', apiKey),
      400,
      'invalid_request',
      /session_id/,
    );
    // A family id that is not one of this user's live sessions ends nothing.
    expectFailsWith(
      await request(t.app)
        .delete(`/identity/users/${ada.userId}/sessions/${crypto.randomUUID()}`)
        .set('x-api-key', apiKey),
      404,
      'not_found',
      /session/,
    );
    const refreshed = await request(t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: ada.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(orgId).not.toBe(other.orgId);
  });
});
