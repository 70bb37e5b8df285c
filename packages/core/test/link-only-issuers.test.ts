import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  expectFailsWith,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

const NEVER_IN_LINK_ONLY =
  'provisioning: "link_only" signs in only users claimed by email, so every issuer of the org needs email_linking "verified" or "unless_unverified"; the users of an issuer with "never" could never sign in.';

let customers: LocalIssuer;
let staff: LocalIssuer;
beforeAll(async () => {
  [customers, staff] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
});
afterAll(async () => {
  await Promise.all([customers.close(), staff.close()]);
});

const admin = (t: ReturnType<typeof createTestApp>, method: 'post' | 'patch', path: string) =>
  request(t.app)[method](path).set('authorization', `Bearer ${ADMIN_TOKEN}`);

describe('issuers of a link_only organization', () => {
  it('refuses adding an issuer with email_linking "never" (invalid_request 400, nothing written)', async () => {
    const t = createTestApp();
    const { orgId } = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: customers.issuer,
      provisioning: 'link_only',
    });
    t.store.resetWrites();
    const refused = await admin(t, 'post', `/identity/organizations/${orgId}/issuers`).send({
      issuer: staff.issuer,
      email_linking: 'never',
    });
    expectFailsWith(refused, 400, 'invalid_request', NEVER_IN_LINK_ONLY);
    expect(t.store.writes).toEqual([]);

    const added = await admin(t, 'post', `/identity/organizations/${orgId}/issuers`).send({
      issuer: staff.issuer,
      email_linking: 'verified',
    });
    expect(added.status).toBe(201);
  });

  it('refuses switching to link_only while any issuer links "never", not only when all do', async () => {
    const t = createTestApp();
    const { orgId } = await registerOrganization(t.app, { name: 'Acme', issuer: customers.issuer });
    const added = await admin(t, 'post', `/identity/organizations/${orgId}/issuers`).send({
      issuer: staff.issuer,
      email_linking: 'never',
    });
    expect(added.status).toBe(201);
    t.store.resetWrites();
    const refused = await admin(t, 'patch', `/identity/organizations/${orgId}`).send({
      provisioning: 'link_only',
    });
    expectFailsWith(refused, 400, 'invalid_request', NEVER_IN_LINK_ONLY);
    expect(t.store.writes).toEqual([]);
  });
});
