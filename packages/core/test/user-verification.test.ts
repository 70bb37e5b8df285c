import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import { ADMIN_TOKEN, expectFailsWith, type LocalIssuer, startLocalIssuer } from './helpers.js';
import {
  createWebhook,
  type Partner,
  partnerApp,
  patchUser,
  type Receiver,
  startReceiver,
} from './webhook-fixtures.js';

let idp: LocalIssuer;
let otherIdp: LocalIssuer;
let hooks: Receiver;
beforeAll(async () => {
  [idp, otherIdp, hooks] = await Promise.all([startLocalIssuer(), startLocalIssuer(), startReceiver()]);
});
afterAll(async () => {
  await Promise.all([idp.close(), otherIdp.close(), hooks.close()]);
});

/** Types of the events delivered for `partner` since `from`, sorted: deliveries run in parallel, unordered. */
async function deliveredTypes(partner: Partner, from: number): Promise<string[]> {
  await partner.t.router.exchange.webhooks.runDueDeliveries();
  return hooks.received
    .slice(from)
    .map((delivery) => JSON.parse(delivery.body))
    .filter((event) => event.org_id === partner.orgId)
    .map((event) => event.type)
    .sort();
}

describe('PATCH /identity/users/:user_id', () => {
  it('walks the KYC lifecycle, answering the user with its statuses and emitting one event per step', async () => {
    const partner = await partnerApp(idp);
    await createWebhook(partner, { url: hooks.url, eventTypes: ['*'] });
    const from = hooks.received.length;
    const steps = [
      'session_created',
      'pii_submitted',
      'processing',
      'resubmission_requested',
      'pii_submitted',
      'processing',
      'approved',
    ];

    for (const kyc_status of steps) {
      const response = await patchUser(partner, { kyc_status });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        user_id: partner.userId,
        kyc_status,
        kyc_completed: kyc_status === 'approved',
      });
    }

    expect(await deliveredTypes(partner, from)).toEqual(
      [
        'kyc.session.created',
        'kyc.session.pii_submitted',
        'kyc.session.processing',
        'kyc.session.resubmission_requested',
        'kyc.session.pii_submitted',
        'kyc.session.processing',
        'kyc.session.approved',
      ].sort(),
    );
  });

  it('maps the boolean flags to statuses and derives them back', async () => {
    const partner = await partnerApp(idp);
    await createWebhook(partner, { url: hooks.url, eventTypes: ['*'] });
    const from = hooks.received.length;

    const submitted = await patchUser(partner, {
      accredited: true,
      onboarding_completed: true,
      kyc_completed: true,
    });
    expect(submitted.status).toBe(200);
    expect(submitted.body).toEqual({
      user_id: partner.userId,
      org_id: partner.orgId,
      email: expect.any(String),
      role: 'org_admin',
      onboarding_completed: true,
      kyc_completed: true,
      accredited: true,
      accreditation_verified: false,
      kyc_status: 'approved',
      accreditation_status: 'submitted',
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const verified = await patchUser(partner, { accreditation_verified: true });
    expect(verified.body).toMatchObject({
      accredited: true,
      accreditation_verified: true,
      accreditation_status: 'verified',
    });
    // Repeating a state changes nothing and emits nothing.
    expect((await patchUser(partner, { accredited: true, onboarding_completed: true })).status).toBe(200);

    expect(await deliveredTypes(partner, from)).toEqual(
      [
        'kyc.session.approved',
        'accreditation.submitted',
        'onboarding.completed',
        'accreditation.verified',
      ].sort(),
    );
  });

  it('rejects a submitted accreditation with accredited: false', async () => {
    const partner = await partnerApp(idp);
    await patchUser(partner, { accreditation_status: 'submitted' });
    const response = await patchUser(partner, { accredited: false });
    expect(response.body).toMatchObject({ accredited: false, accreditation_status: 'rejected' });
  });

  it('refuses an invalid transition with invalid_transition 409, writing nothing', async () => {
    const partner = await partnerApp(idp);
    await patchUser(partner, { kyc_status: 'approved' });
    partner.t.store.resetWrites();

    expectFailsWith(
      await patchUser(partner, { kyc_status: 'pii_submitted' }),
      409,
      'invalid_transition',
      'KYC status cannot change from approved to pii_submitted.',
    );
    expectFailsWith(
      await patchUser(partner, { kyc_completed: false }),
      409,
      'invalid_transition',
      'KYC status cannot change from approved to not approved.',
    );
    await patchUser(partner, { accreditation_verified: true });
    partner.t.store.resetWrites();
    expectFailsWith(
      await patchUser(partner, { accreditation_status: 'submitted' }),
      409,
      'invalid_transition',
      'Accreditation status cannot change from verified to submitted.',
    );
    expect(partner.t.store.writes).toEqual([]);
  });

  it.each([
    ['an empty body', {}, 'the body must name at least one field'],
    ['an unknown status', { kyc_status: 'done' }, /^kyc_status: /],
    ['an unknown field', { email: 'x@example.com' }, /email/],
    [
      'a flag contradicting a status',
      { kyc_status: 'denied', kyc_completed: true },
      'kyc_completed contradicts kyc_status.',
    ],
    [
      'contradicting accreditation flags',
      { accredited: false, accreditation_verified: true },
      'accreditation_verified: true requires accredited.',
    ],
  ])('answers invalid_request 400 for %s', async (_, body, description) => {
    const partner = await partnerApp(idp);
    partner.t.store.resetWrites();
    expectFailsWith(await patchUser(partner, body), 400, 'invalid_request', description);
    expect(partner.t.store.writes).toEqual([]);
  });

  it('authenticates with the org API key or admin credentials; another org is 404', async () => {
    const partner = await partnerApp(idp);
    const other = await partnerApp(otherIdp, { store: partner.t.store });
    const app = partner.t.app;
    const path = `/identity/users/${partner.userId}`;
    const body = { onboarding_completed: true };
    partner.t.store.resetWrites();

    expectFailsWith(await request(app).patch(path).send(body), 401, 'missing_api_key');
    expectFailsWith(
      await request(app).patch(path).set('x-api-key', 'rialto_ak_nope').send(body),
      401,
      'invalid_api_key',
    );
    expectFailsWith(
      await request(app).patch(path).set('authorization', 'Bearer not-the-admin-token').send(body),
      401,
      'unauthorized',
      'Admin credentials are not valid.',
    );
    expectFailsWith(
      await request(app).patch(path).set('x-api-key', other.apiKey).send(body),
      404,
      'not_found',
      'No such user in your organization.',
    );
    expectFailsWith(await patchUser(partner, body, 'not-a-uuid'), 404, 'not_found');
    expect(partner.t.store.writes).toEqual([]);

    const asAdmin = await request(app).patch(path).set('authorization', `Bearer ${ADMIN_TOKEN}`).send(body);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body).toMatchObject({ user_id: partner.userId, onboarding_completed: true });
  });

  it('carries the new flags in access tokens minted afterwards, by refresh and by exchange', async () => {
    const partner = await partnerApp(idp);
    await patchUser(partner, { kyc_status: 'approved', accreditation_status: 'verified' });

    const refreshed = await request(partner.t.app)
      .post('/identity/auth/refresh')
      .send({ refresh_token: partner.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.access_token)).toMatchObject({
      kyc_completed: true,
      accredited: true,
      accreditation_verified: true,
      onboarding_completed: false,
    });
    const user = await request(partner.t.app)
      .get(`/identity/users/${partner.userId}`)
      .set('authorization', `Bearer ${refreshed.body.access_token}`);
    expect(user.body).toMatchObject({ kyc_status: 'approved', accreditation_status: 'verified' });
  });
});

describe('exchange.users.update()', () => {
  it('changes the state from host code as the route does, and refuses invalid transitions', async () => {
    const partner = await partnerApp(idp);
    const { users } = partner.t.router.exchange;

    const updated = await users.update(partner.orgId, partner.userId, { kycStatus: 'denied' });
    expect(updated).toMatchObject({ kycStatus: 'denied', accreditationStatus: 'not_submitted' });
    await expect(
      users.update(partner.orgId, partner.userId, { kycStatus: 'approved' }),
    ).rejects.toMatchObject({
      code: 'invalid_transition',
    });
    await expect(
      users.update(partner.orgId, crypto.randomUUID(), { kycStatus: 'approved' }),
    ).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});
