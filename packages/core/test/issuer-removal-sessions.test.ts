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
import { basic, expectOAuthError } from './oauth-helpers.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

interface Tokens {
  access_token: string;
  refresh_token: string;
}

describe('removing an issuer registration, with and without end_sessions', () => {
  let customers: LocalIssuer;
  let staff: LocalIssuer;
  let t: TestApp;
  let org: { orgId: string; apiKey: string };
  let staffRegistrationId: string;
  const removals: unknown[] = [];

  beforeAll(async () => {
    [customers, staff] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
  });
  afterAll(() => Promise.all([customers.close(), staff.close()]));

  beforeEach(async () => {
    t = createTestApp();
    removals.length = 0;
    t.router.exchange.audit.on('organization.issuer_removed', (payload) => {
      removals.push(payload);
    });
    org = await registerOrganization(t.app, { name: 'Acme', issuer: customers.issuer });
    staffRegistrationId = await addStaffIssuer();
  });

  async function addStaffIssuer(): Promise<string> {
    const added = await request(t.app)
      .post(`/identity/organizations/${org.orgId}/issuers`)
      .set(admin)
      .send({ issuer: staff.issuer, client_ids: ['staff-portal'] });
    expect(added.status).toBe(201);
    return added.body.issuer_id as string;
  }

  const staffIdToken = () =>
    staff.sign(idTokenClaims(staff.issuer, { aud: 'staff-portal', sub: 'emp-1', email: 'emp@example.com' }));

  /** A session begun at the seed exchange. */
  async function seedSession(idToken: string): Promise<Tokens> {
    const response = await exchange(t.app, org.apiKey, { token: idToken });
    expect(response.status).toBe(200);
    return response.body as Tokens;
  }

  /** A session begun at the OAuth token endpoint. */
  async function oauthSession(idToken: string): Promise<Tokens> {
    const response = await tokenEndpoint({ grant_type: JWT_BEARER, assertion: idToken });
    expect(response.status).toBe(200);
    return response.body as Tokens;
  }

  const tokenEndpoint = (parameters: Record<string, string>) =>
    request(t.app)
      .post('/oauth/token')
      .set({ authorization: basic(org.orgId, org.apiKey) })
      .send(new URLSearchParams(parameters).toString());
  const refreshAtSeed = (refreshToken: string) =>
    request(t.app).post('/identity/auth/refresh').send({ refresh_token: refreshToken });
  const refreshAtTokenEndpoint = (refreshToken: string) =>
    tokenEndpoint({ grant_type: 'refresh_token', refresh_token: refreshToken });
  const introspect = (token: string) =>
    request(t.app)
      .post('/oauth/introspect')
      .set({ 'x-api-key': org.apiKey })
      .send(`token=${encodeURIComponent(token)}`);
  const removeStaff = (query = '') =>
    request(t.app)
      .delete(`/identity/organizations/${org.orgId}/issuers/${staffRegistrationId}${query}`)
      .set(admin);

  it('end_sessions=true ends the families begun with it at both refresh routes and at introspection, and no other', async () => {
    const staffSeed = await seedSession(await staffIdToken());
    const staffOAuth = await oauthSession(await staffIdToken());
    const customerSeed = await seedSession(await customers.sign(idTokenClaims(customers.issuer)));
    const customerOAuth = await oauthSession(await customers.sign(idTokenClaims(customers.issuer)));

    const removed = await removeStaff('?end_sessions=true');
    expect({ status: removed.status, body: removed.body }).toEqual({
      status: 200,
      body: { org_id: org.orgId, issuer_id: staffRegistrationId, removed: true },
    });
    expect(removals).toEqual([
      { orgId: org.orgId, registrationId: staffRegistrationId, issuer: staff.issuer, endSessions: true },
    ]);

    expectFailsWith(
      await refreshAtSeed(staffSeed.refresh_token),
      400,
      'invalid_grant',
      /issuer registration was removed/,
    );
    expectOAuthError(
      await refreshAtTokenEndpoint(staffOAuth.refresh_token),
      400,
      'invalid_grant',
      'invalid_grant',
    );
    for (const token of [staffSeed.refresh_token, staffOAuth.refresh_token]) {
      const inspected = await introspect(token);
      expect({ status: inspected.status, body: inspected.body }).toEqual({
        status: 200,
        body: { active: false },
      });
    }

    // The other issuer's sessions are untouched, at both routes.
    expect((await introspect(customerSeed.refresh_token)).body.active).toBe(true);
    expect((await refreshAtSeed(customerSeed.refresh_token)).status).toBe(200);
    expect((await refreshAtTokenEndpoint(customerOAuth.refresh_token)).status).toBe(200);

    // Registered again, the issuer is a new registration: its new sessions refresh, the ended ones stay ended.
    staffRegistrationId = await addStaffIssuer();
    const again = await seedSession(await staffIdToken());
    expect((await refreshAtSeed(again.refresh_token)).status).toBe(200);
    expectFailsWith(
      await refreshAtSeed(staffSeed.refresh_token),
      400,
      'invalid_grant',
      /issuer registration was removed/,
    );
    expectOAuthError(
      await refreshAtTokenEndpoint(staffOAuth.refresh_token),
      400,
      'invalid_grant',
      'invalid_grant',
    );
  });

  it('without end_sessions (or with end_sessions=false) the sessions begun with it continue', async () => {
    for (const query of ['', '?end_sessions=false']) {
      const staffSeed = await seedSession(await staffIdToken());
      const staffOAuth = await oauthSession(await staffIdToken());

      expect((await removeStaff(query)).status).toBe(200);

      expect((await introspect(staffSeed.refresh_token)).body.active).toBe(true);
      const refreshed = await refreshAtSeed(staffSeed.refresh_token);
      expect(refreshed.status).toBe(200);
      // The successor carries the family's registration on: it refreshes too.
      expect((await refreshAtSeed(refreshed.body.refresh_token)).status).toBe(200);
      expect((await refreshAtTokenEndpoint(staffOAuth.refresh_token)).status).toBe(200);
      staffRegistrationId = await addStaffIssuer();
    }
    expect(removals).toEqual([
      expect.objectContaining({ endSessions: false }),
      expect.objectContaining({ endSessions: false }),
    ]);
  });

  it('refuses a bad end_sessions value with 400 invalid_request, and removes nothing', async () => {
    const staffSeed = await seedSession(await staffIdToken());
    for (const query of [
      '?end_sessions=yes',
      '?end_sessions=1',
      '?end_sessions=true&end_sessions=true',
      '?ended=true',
    ]) {
      expectFailsWith(await removeStaff(query), 400, 'invalid_request');
    }
    expect(removals).toEqual([]);
    const listed = await request(t.app).get(`/identity/organizations/${org.orgId}/issuers`).set(admin);
    expect(listed.body.issuers.map((found: { issuer_id: string }) => found.issuer_id)).toContain(
      staffRegistrationId,
    );
    expect((await refreshAtSeed(staffSeed.refresh_token)).status).toBe(200);
  });

  it('answers 404 not_found for an unknown registration with end_sessions=true, and ends nothing', async () => {
    const staffSeed = await seedSession(await staffIdToken());
    const unknown = await request(t.app)
      .delete(`/identity/organizations/${org.orgId}/issuers/${crypto.randomUUID()}?end_sessions=true`)
      .set(admin);
    expectFailsWith(unknown, 404, 'not_found');
    expect(removals).toEqual([]);
    expect((await refreshAtSeed(staffSeed.refresh_token)).status).toBe(200);
  });
});
