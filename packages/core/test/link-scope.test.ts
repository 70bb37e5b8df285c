import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/*
 * Issue #21: a staff IdP registered beside the customers' IdP in one `verified` organization must
 * not claim customer accounts by email unless the operator says so (`link_scope`).
 */

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const OUT_OF_SCOPE =
  "A user with this email already exists, first seen through another of the organization's issuers, and this issuer links only to its own users (link_scope: issuer).";

let customers: LocalIssuer;
let staff: LocalIssuer;
beforeAll(async () => {
  [customers, staff] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
});
afterAll(async () => {
  await Promise.all([customers.close(), staff.close()]);
});

async function orgWithTwoIssuers(staffFields: Record<string, unknown> = {}) {
  const t = createTestApp();
  const org = await registerOrganization(t.app, { name: 'Acme', issuer: customers.issuer });
  const added = await request(t.app)
    .post(`/identity/organizations/${org.orgId}/issuers`)
    .set(admin)
    .send({ issuer: staff.issuer, ...staffFields });
  expect(added.status).toBe(201);
  return { t, ...org, staffIssuerId: added.body.issuer_id as string, added: added.body };
}

async function signIn(t: TestApp, apiKey: string, idp: LocalIssuer, claims: Record<string, unknown>) {
  return exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer, claims)) });
}

const CUSTOMER = { sub: 'customer-ada', email: 'ada@example.com', email_verified: true };
// The staff IdP's admins can give any account any verified address.
const STAFF_IMPOSTOR = { sub: 'staff-mallory', email: 'ada@example.com', email_verified: true };

describe('link_scope of an issuer registration', () => {
  it('new registrations link within their own issuer: a second issuer cannot claim a user first seen through the first (409)', async () => {
    const { t, orgId, apiKey, added } = await orgWithTwoIssuers();
    expect(added.link_scope).toBe('issuer');
    expect((await signIn(t, apiKey, customers, CUSTOMER)).status).toBe(200);
    const usersBefore = await t.store.listUsers({ orgId, query: null, after: null, limit: 10 });

    const response = await signIn(t, apiKey, staff, STAFF_IMPOSTOR);

    expectFailsWith(response, 409, 'account_conflict');
    expect(response.body.error_description).toBe(OUT_OF_SCOPE);
    expect(await t.store.listUsers({ orgId, query: null, after: null, limit: 10 })).toEqual(usersBefore);
    // Nothing was linked: the staff identity is still refused, not found.
    expectFailsWith(await signIn(t, apiKey, staff, STAFF_IMPOSTOR), 409, 'account_conflict');
  });

  it('link_scope "org" links across the organization issuers, as before', async () => {
    const { t, apiKey } = await orgWithTwoIssuers({ link_scope: 'org' });
    const customer = await signIn(t, apiKey, customers, CUSTOMER);

    const response = await signIn(t, apiKey, staff, STAFF_IMPOSTOR);

    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token).user_id).toBe(decodeJwt(customer.body.access_token).user_id);
  });

  it('links within the same issuer (a second subject of it with the same verified email)', async () => {
    const { t, apiKey } = await orgWithTwoIssuers();
    const first = await signIn(t, apiKey, staff, { sub: 'staff-1', email: 'bob@example.com' });

    const second = await signIn(t, apiKey, staff, { sub: 'staff-2', email: 'bob@example.com' });

    expect(second.status).toBe(200);
    expect(decodeJwt(second.body.access_token).user_id).toBe(decodeJwt(first.body.access_token).user_id);
  });

  it('PATCH changes it as a new policy version with an audit event, and the next exchange follows it', async () => {
    const { t, orgId, apiKey, staffIssuerId } = await orgWithTwoIssuers();
    const events: unknown[] = [];
    t.router.exchange.audit.on('organization.issuer_policy_changed', (event) => {
      events.push(event);
    });
    await signIn(t, apiKey, customers, CUSTOMER);
    expectFailsWith(await signIn(t, apiKey, staff, STAFF_IMPOSTOR), 409, 'account_conflict');

    const patched = await request(t.app)
      .patch(`/identity/organizations/${orgId}/issuers/${staffIssuerId}`)
      .set(admin)
      .send({ link_scope: 'org' });

    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ link_scope: 'org', policy_version: 2 });
    expect(events).toEqual([
      expect.objectContaining({
        registrationId: staffIssuerId,
        version: 2,
        changes: { linkScope: { before: 'issuer', after: 'org' } },
        changedBy: 'admin_api',
      }),
    ]);
    expect((await signIn(t, apiKey, staff, STAFF_IMPOSTOR)).status).toBe(200);
  });

  it('refuses an unknown link_scope with 400, registering nothing', async () => {
    const t = createTestApp();
    const { orgId } = await registerOrganization(t.app, { name: 'Acme', issuer: customers.issuer });
    t.store.resetWrites();

    const response = await request(t.app)
      .post(`/identity/organizations/${orgId}/issuers`)
      .set(admin)
      .send({ issuer: staff.issuer, link_scope: 'everyone' });

    expectFailsWith(response, 400, 'invalid_request', /^link_scope: /);
    expect(t.store.writes).toEqual([]);
  });

  it('a registration stored without a link scope reads and links as "org", unchanged', async () => {
    const { t, orgId, apiKey, staffIssuerId } = await orgWithTwoIssuers();
    // As a release before link scopes stored it: no link scope in its policy.
    const [stored] = (await t.store.listIssuerRegistrations(orgId)).filter(
      (registration) => registration.registrationId === staffIssuerId,
    );
    const { linkScope: _dropped, ...legacyPolicy } = stored?.policy ?? {
      condition: null,
      claimMappings: {},
      version: 1,
    };
    await t.store.removeIssuerRegistration(orgId, staffIssuerId);
    await t.store.addIssuerRegistration({ ...(stored as NonNullable<typeof stored>), policy: legacyPolicy });
    await signIn(t, apiKey, customers, CUSTOMER);

    const listed = await request(t.app).get(`/identity/organizations/${orgId}/issuers`).set(admin);
    const response = await signIn(t, apiKey, staff, STAFF_IMPOSTOR);

    expect(listed.body.issuers ?? listed.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ issuer_id: staffIssuerId, link_scope: 'org' })]),
    );
    expect(response.status).toBe(200);
  });

  it('the debugger shows the link scope and the refusal, writing nothing', async () => {
    const { t, apiKey } = await orgWithTwoIssuers();
    await signIn(t, apiKey, customers, CUSTOMER);
    t.store.resetWrites();

    const response = await request(t.app)
      .post('/identity/auth/exchange/explain')
      .set('content-type', 'application/json')
      .set('x-api-key', apiKey)
      .send(JSON.stringify({ token: await staff.sign(idTokenClaims(staff.issuer, STAFF_IMPOSTOR)) }));

    expect(response.status).toBe(200);
    expect(response.body.steps.find((step: { step: string }) => step.step === 'linking')).toMatchObject({
      step: 'linking',
      result: 'fail',
      seen: { email_linking: 'verified', link_scope: 'issuer' },
      error: { status: 409, error: 'account_conflict', error_description: OUT_OF_SCOPE },
    });
    expect(t.store.writes).toEqual([]);
  });
});
