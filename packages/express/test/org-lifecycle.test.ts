import { StoreUnavailableError } from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_WEBHOOKS } from '../../core/test/webhook-fixtures.js';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
  type StoreKind,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../storage-adapters/test/services.js';
import { requireRialtoToken } from '../src/index.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

const kinds: StoreKind[] = ['memory', 'redis', 'postgres'];
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const SUSPENDED = 'The organization is suspended.';
const RECEIVER = 'http://127.0.0.1:9/hook';

describe.each(kinds)('organization and user lifecycle on the %s store', async (kind) => {
  const service = SERVICE_OF[kind];
  if (service && !(await isServiceUp(...service))) return;

  let backing: DisposableStore;
  const issuers: LocalIssuer[] = [];

  beforeAll(() => {
    backing = disposableStore(kind);
  });
  afterAll(async () => {
    await Promise.all(issuers.map((issuer) => issuer.close()));
    await backing.dispose();
  });

  interface Org {
    t: TestApp;
    idp: LocalIssuer;
    orgId: string;
    apiKey: string;
  }
  interface Session {
    userId: string;
    accessToken: string;
    refreshToken: string;
  }

  function appOn(options: Parameters<typeof createTestApp>[0] = {}): TestApp {
    const t = createTestApp({
      store: recordingStore(backing.store),
      rateLimit: false,
      webhooks: LOCAL_WEBHOOKS,
      ...options,
    });
    t.app.get('/me', requireRialtoToken({ exchange: t.router }), (req, res) => {
      res.json({ user_id: req.rialto?.claims.user_id });
    });
    return t;
  }

  async function newOrg(t = appOn(), body: Record<string, unknown> = {}): Promise<Org> {
    const idp = await startLocalIssuer();
    issuers.push(idp);
    const { orgId, apiKey } = await registerOrganization(t.app, { name: 'Org', issuer: idp.issuer, ...body });
    return { t, idp, orgId, apiKey };
  }

  async function signIn(org: Org, sub: string, claims: Record<string, unknown> = {}) {
    const token = await org.idp.sign(
      idTokenClaims(org.idp.issuer, { sub, email: `${sub}@example.com`, ...claims }),
    );
    return exchange(org.t.app, org.apiKey, { token });
  }

  async function session(org: Org, sub: string): Promise<Session> {
    const response = await signIn(org, sub);
    expect(response.status).toBe(200);
    return {
      userId: decodeJwt(response.body.access_token).user_id as string,
      accessToken: response.body.access_token,
      refreshToken: response.body.refresh_token,
    };
  }

  const refresh = (org: Org, refreshToken: string) =>
    request(org.t.app).post('/identity/auth/refresh').send({ refresh_token: refreshToken });
  const me = (org: Org, accessToken: string) =>
    request(org.t.app).get('/me').set('authorization', `Bearer ${accessToken}`);
  const admin = (org: Org, method: 'post' | 'delete' | 'patch', path: string) =>
    request(org.t.app)[method](`/identity/organizations/${org.orgId}${path}`).set(ADMIN);

  describe('suspension', () => {
    it('refuses exchange, refresh, org-scoped routes and access tokens with organization_suspended until resumed', async () => {
      const org = await newOrg();
      const bystander = await newOrg(org.t);
      const ada = await session(org, 'ada');
      const audit: unknown[] = [];
      org.t.router.exchange.audit.on('organization.suspended', (event) => {
        audit.push(event);
      });

      const suspended = await admin(org, 'post', '/suspend');
      expect(suspended.status).toBe(200);
      expect(suspended.body).toMatchObject({ org_id: org.orgId, suspended: true });
      expect(audit).toEqual([{ orgId: org.orgId }]);
      org.t.store.resetWrites();

      expectFailsWith(await signIn(org, 'ada'), 403, 'organization_suspended', SUSPENDED);
      expectFailsWith(await refresh(org, ada.refreshToken), 403, 'organization_suspended', SUSPENDED);
      expectFailsWith(await me(org, ada.accessToken), 403, 'organization_suspended', SUSPENDED);
      const withKey = { 'x-api-key': org.apiKey };
      for (const call of [
        request(org.t.app).get(`/identity/users/${ada.userId}`).set(withKey),
        request(org.t.app)
          .get(`/identity/users/${ada.userId}`)
          .set('authorization', `Bearer ${ada.accessToken}`),
        request(org.t.app).get('/notifications/webhooks').set(withKey),
        request(org.t.app).patch(`/identity/users/${ada.userId}`).set(withKey).send({ kyc_completed: true }),
        request(org.t.app)
          .patch(`/identity/auth/idp/${org.orgId}`)
          .set(withKey)
          .send({ audience: ['x'] }),
        request(org.t.app).post('/identity/users').set(withKey).send({ email: 'new@example.com' }),
      ]) {
        expectFailsWith(await call, 403, 'organization_suspended', SUSPENDED);
      }
      expect(org.t.store.writes).toEqual([]);
      expect((await signIn(bystander, 'bob')).status).toBe(200);

      expect((await admin(org, 'post', '/resume')).body).toMatchObject({
        suspended: false,
        suspended_at: null,
      });
      // Nothing was consumed while suspended: the same session goes on.
      expect((await refresh(org, ada.refreshToken)).status).toBe(200);
      expect((await me(org, ada.accessToken)).status).toBe(200);
      expect((await signIn(org, 'ada')).status).toBe(200);
    });

    it('takes effect on another instance within the lookup-cache bound, even with the API keys still valid', async () => {
      const org = await newOrg();
      const ada = await session(org, 'ada');
      const other = appOn({ lookupCacheTtlSeconds: 1 });
      const otherOrg = { ...org, t: other };
      expect((await me(otherOrg, ada.accessToken)).status).toBe(200);

      await admin(org, 'post', '/suspend');
      await new Promise((resolve) => setTimeout(resolve, 1_100));

      expectFailsWith(await me(otherOrg, ada.accessToken), 403, 'organization_suspended');
      expectFailsWith(await signIn(otherOrg, 'ada'), 403, 'organization_suspended');
    });

    it('takes admin credentials: an API key or no credentials change nothing', async () => {
      const org = await newOrg();
      for (const credential of [{ 'x-api-key': org.apiKey }, {}]) {
        const response = await request(org.t.app)
          .post(`/identity/organizations/${org.orgId}/suspend`)
          .set(credential);
        expectFailsWith(response, 401, 'unauthorized');
      }
      expectFailsWith(
        await request(org.t.app).post(`/identity/organizations/${crypto.randomUUID()}/suspend`).set(ADMIN),
        404,
        'not_found',
      );
      expect((await org.t.store.getOrganization(org.orgId))?.suspendedAt).toBeNull();
    });
  });

  describe('deletion', () => {
    it('removes the org and its data, ends its sessions, emits organization.deleted, and frees its issuer', async () => {
      const org = await newOrg();
      const ada = await session(org, 'ada');
      await request(org.t.app)
        .post('/notifications/webhooks')
        .set('x-api-key', org.apiKey)
        .send({ url: RECEIVER, eventTypes: ['*'] });
      const audit: unknown[] = [];
      org.t.router.exchange.audit.on('organization.deleted', (event) => {
        audit.push(event);
      });

      const response = await admin(org, 'delete', '');
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ org_id: org.orgId, deleted: true });
      expect(audit).toEqual([{ orgId: org.orgId }]);

      expect(await org.t.store.getOrganization(org.orgId)).toBeNull();
      expect(await org.t.store.getUserById(ada.userId)).toBeNull();
      expect(await org.t.store.listWebhookSubscriptions(org.orgId)).toEqual([]);
      expectFailsWith(await signIn(org, 'ada'), 401, 'invalid_api_key');
      expectFailsWith(await me(org, ada.accessToken), 401, 'invalid_access_token');
      expectFailsWith(await refresh(org, ada.refreshToken), 400, 'invalid_grant');
      expectFailsWith(await admin(org, 'delete', ''), 404, 'not_found');
      await registerOrganization(org.t.app, { name: 'Again', issuer: org.idp.issuer });
    });

    it('takes admin credentials: the API key cannot delete its own org', async () => {
      const org = await newOrg();
      expectFailsWith(
        await request(org.t.app).delete(`/identity/organizations/${org.orgId}`).set('x-api-key', org.apiKey),
        401,
        'unauthorized',
      );
      expect(await org.t.store.getOrganization(org.orgId)).not.toBeNull();
    });
  });

  describe('DELETE /identity/users/:user_id', () => {
    it("the org's API key erases the user: webhook and audit event, sessions end, a new sign-in is a new user", async () => {
      const org = await newOrg();
      const hook = await request(org.t.app)
        .post('/notifications/webhooks')
        .set('x-api-key', org.apiKey)
        .send({ url: RECEIVER, eventTypes: ['user.deleted'] });
      const ada = await session(org, 'ada');
      const audit: unknown[] = [];
      org.t.router.exchange.audit.on('user.deleted', (event) => {
        audit.push(event);
      });

      const response = await request(org.t.app)
        .delete(`/identity/users/${ada.userId}`)
        .set('x-api-key', org.apiKey);

      expect(response.status).toBe(200);
      expect(response.body).toEqual({ user_id: ada.userId, deleted: true });
      expect(audit).toEqual([{ orgId: org.orgId, userId: ada.userId }]);
      const [delivery] = await org.t.store.listWebhookDeliveries(org.orgId, hook.body.id, 10);
      expect(delivery?.eventType).toBe('user.deleted');
      expect(JSON.parse(delivery?.payload ?? '{}').data).toEqual({ user_id: ada.userId, org_id: org.orgId });
      expect(delivery?.payload).not.toContain('ada@example.com');
      expect(await org.t.store.getUserById(ada.userId)).toBeNull();
      expectFailsWith(await me(org, ada.accessToken), 401, 'invalid_access_token');
      expectFailsWith(await refresh(org, ada.refreshToken), 400, 'invalid_grant');
      const again = await session(org, 'ada');
      expect(again.userId).not.toBe(ada.userId);
    });

    it("an org admin's token deletes; a member's gets insufficient_role and another org's key not_found, changing nothing", async () => {
      const org = await newOrg();
      const stranger = await newOrg(org.t);
      const bob = await session(org, 'bob');
      const member = await session(org, 'carol');
      const dave = await session(org, 'dave');
      await request(org.t.app)
        .put(`/identity/users/${dave.userId}/role`)
        .set('x-api-key', org.apiKey)
        .send({ role: 'org_admin' });
      const orgAdmin = await session(org, 'dave');
      org.t.store.resetWrites();

      expectFailsWith(
        await request(org.t.app)
          .delete(`/identity/users/${bob.userId}`)
          .set('authorization', `Bearer ${member.accessToken}`),
        403,
        'insufficient_role',
      );
      expectFailsWith(
        await request(org.t.app).delete(`/identity/users/${bob.userId}`).set('x-api-key', stranger.apiKey),
        404,
        'not_found',
      );
      // The member never reached the store; the other org's delete was refused by the store's org check.
      expect(org.t.store.writes).toEqual(['deleteUser']);
      expect(await org.t.store.getUserById(bob.userId)).not.toBeNull();

      const deleted = await request(org.t.app)
        .delete(`/identity/users/${bob.userId}`)
        .set('authorization', `Bearer ${orgAdmin.accessToken}`);
      expect(deleted.status).toBe(200);
      expect(await org.t.store.getUserById(bob.userId)).toBeNull();
    });
  });

  describe('POST /identity/users and provisioning link_only', () => {
    it('the API key pre-creates a user with its initial state; a duplicate email is 409, a bad one 400', async () => {
      const org = await newOrg();
      const created = await request(org.t.app)
        .post('/identity/users')
        .set('x-api-key', org.apiKey)
        .send({ email: 'Imported@Example.com', kyc_status: 'approved', onboarding_completed: true });

      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        org_id: org.orgId,
        email: 'imported@example.com',
        role: 'member',
        kyc_status: 'approved',
        kyc_completed: true,
        onboarding_completed: true,
      });
      org.t.store.resetWrites();
      expectFailsWith(
        await request(org.t.app)
          .post('/identity/users')
          .set('x-api-key', org.apiKey)
          .send({ email: 'imported@example.com' }),
        409,
        'conflict',
      );
      expectFailsWith(
        await request(org.t.app)
          .post('/identity/users')
          .set('x-api-key', org.apiKey)
          .send({ email: 'not-an-email' }),
        400,
        'invalid_request',
        /email/,
      );
      // Only the duplicate reached the store, whose atomic check refused it; the bad email did not.
      expect(org.t.store.writes).toEqual(['createUser']);
      // The first exchange with that verified email claims the imported user.
      const signedIn = await session(org, 'imported');
      expect(signedIn.userId).toBe(created.body.user_id);
    });

    it('the admin names the org; a user token cannot pre-create', async () => {
      const org = await newOrg();
      const ada = await session(org, 'ada');
      const byAdmin = await request(org.t.app)
        .post('/identity/users')
        .set(ADMIN)
        .send({ org_id: org.orgId, email: 'staff@example.com' });
      expect(byAdmin.status).toBe(201);
      expectFailsWith(
        await request(org.t.app).post('/identity/users').set(ADMIN).send({ email: 'x@example.com' }),
        400,
        'invalid_request',
      );
      expectFailsWith(
        await request(org.t.app)
          .post('/identity/users')
          .set('authorization', `Bearer ${ada.accessToken}`)
          .send({ email: 'y@example.com' }),
        401,
        'unauthorized',
      );
    });

    it('link_only: an unknown person gets user_not_provisioned with nothing written; a pre-created user is claimed', async () => {
      const org = await newOrg();
      const switched = await admin(org, 'patch', '').send({ provisioning: 'link_only' });
      expect(switched.body).toMatchObject({ provisioning: 'link_only' });
      const usersBefore = await org.t.store.countUsers();

      expectFailsWith(await signIn(org, 'stranger'), 403, 'user_not_provisioned');
      expect(await org.t.store.countUsers()).toBe(usersBefore);

      const imported = await request(org.t.app)
        .post('/identity/users')
        .set('x-api-key', org.apiKey)
        .send({ email: 'member@example.com' });
      expectFailsWith(await signIn(org, 'member', { email_verified: false }), 409, 'account_conflict');
      const claimed = await session(org, 'member');
      expect(claimed.userId).toBe(imported.body.user_id);
    });

    it('refuses link_only with email linking never, at registration and on change', async () => {
      const t = appOn();
      const idp = await startLocalIssuer();
      issuers.push(idp);
      const refused = await request(t.app)
        .post('/identity/organizations')
        .set(ADMIN)
        .send({ name: 'Never', issuer: idp.issuer, email_linking: 'never', provisioning: 'link_only' });
      expectFailsWith(refused, 400, 'invalid_request', /link_only/);
      expect(await t.store.findIssuerRegistrations(idp.issuer)).toEqual([]);

      const org = await newOrg(t, { email_linking: 'never' });
      expectFailsWith(
        await admin(org, 'patch', '').send({ provisioning: 'link_only' }),
        400,
        'invalid_request',
      );
      expect((await t.store.getOrganization(org.orgId))?.provisioning).toBe('create');
    });
  });
});

describe('the standing check of access tokens when the store is down', () => {
  it('fails closed: requireRialtoToken and the service routes answer 503, never let the token through', async () => {
    const inner = memoryStore();
    let isDown = false;
    const store = recordingStore({
      ...inner,
      getUserById: (userId) =>
        isDown ? Promise.reject(new StoreUnavailableError('down')) : inner.getUserById(userId),
    });
    const t = createTestApp({ store, rateLimit: false });
    let reached = false;
    t.app.get('/me', requireRialtoToken({ exchange: t.router }), (_req, res) => {
      reached = true;
      res.json({});
    });
    const idp = await startLocalIssuer();
    try {
      const { apiKey } = await registerOrganization(t.app, { name: 'Down', issuer: idp.issuer });
      const signedIn = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
      const bearer = `Bearer ${signedIn.body.access_token}`;
      isDown = true;

      expectFailsWith(
        await request(t.app).get('/me').set('authorization', bearer),
        503,
        'temporarily_unavailable',
      );
      expect(reached).toBe(false);
      const userId = decodeJwt(signedIn.body.access_token).user_id as string;
      expectFailsWith(
        await request(t.app).get(`/identity/users/${userId}`).set('authorization', bearer),
        503,
        'temporarily_unavailable',
      );
    } finally {
      await idp.close();
    }
  });
});
