import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
  type StoreKind,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../storage-adapters/test/services.js';
import { request } from './client.js';
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
import { LOCAL_WEBHOOKS } from './webhook-fixtures.js';

const kinds: StoreKind[] = ['memory', 'redis', 'postgres'];
const INSUFFICIENT_ROLE =
  "This action takes the organization's API key or an access token of one of its org admins.";
const NO_SUCH_USER = 'No such user in your organization.';
const RECEIVER = 'http://127.0.0.1:9/hook';

describe.each(kinds)('roles within an organization on the %s store', async (kind) => {
  const service = SERVICE_OF[kind];
  if (service && !(await isServiceUp(...service))) return;

  let idp: LocalIssuer;
  let otherIdp: LocalIssuer;
  let backing: DisposableStore;
  let t: TestApp;
  let acme: { orgId: string; apiKey: string };
  let other: { orgId: string; apiKey: string };

  beforeAll(async () => {
    [idp, otherIdp] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
    backing = disposableStore(kind);
    t = createTestApp({ store: recordingStore(backing.store), rateLimit: false, webhooks: LOCAL_WEBHOOKS });
    acme = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    other = await registerOrganization(t.app, { name: 'Other', issuer: otherIdp.issuer });
  });
  afterAll(async () => {
    await Promise.all([idp.close(), otherIdp.close()]);
    await backing.dispose();
  });

  interface SignedIn {
    userId: string;
    accessToken: string;
  }

  async function signIn(sub: string, issuer = idp, apiKey = acme.apiKey): Promise<SignedIn> {
    const token = await issuer.sign(idTokenClaims(issuer.issuer, { sub, email: `${sub}@example.com` }));
    const response = await exchange(t.app, apiKey, { token });
    expect(response.status).toBe(200);
    return {
      userId: decodeJwt(response.body.access_token).user_id as string,
      accessToken: response.body.access_token,
    };
  }

  const setRole = (userId: string, role: unknown, credential: Record<string, string>) =>
    request(t.app).put(`/identity/users/${userId}/role`).set(credential).send({ role });

  /** A user made org admin with the API key, signed in again so its token carries the role. */
  async function orgAdmin(sub: string): Promise<SignedIn> {
    const { userId } = await signIn(sub);
    expect((await setRole(userId, 'org_admin', { 'x-api-key': acme.apiKey })).status).toBe(200);
    return signIn(sub);
  }

  const bearer = (user: SignedIn) => ({ authorization: `Bearer ${user.accessToken}` });
  const getUser = (userId: string, credential: Record<string, string>) =>
    request(t.app).get(`/identity/users/${userId}`).set(credential);

  describe('GET /identity/users/:user_id', () => {
    it("a plain user's token reads its own user, with role member in the body and the org_role claim", async () => {
      const ada = await signIn('ada');
      const response = await getUser(ada.userId, bearer(ada));

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ user_id: ada.userId, org_id: acme.orgId, role: 'member' });
      expect(decodeJwt(ada.accessToken).org_role).toBe('member');
    });

    it("a plain user's token gets 404 for another user of its org, exactly as for another org's user", async () => {
      const ada = await signIn('ada');
      const bob = await signIn('bob');
      const stranger = await signIn('stranger', otherIdp, other.apiKey);

      expectFailsWith(await getUser(bob.userId, bearer(ada)), 404, 'not_found', NO_SUCH_USER);
      expectFailsWith(await getUser(stranger.userId, bearer(ada)), 404, 'not_found', NO_SUCH_USER);
    });

    it("the org's API key and an org admin's token read any user of the org, and no other org's", async () => {
      const bob = await signIn('bob');
      const admin = await orgAdmin('alice');
      const stranger = await signIn('stranger', otherIdp, other.apiKey);

      for (const credential of [{ 'x-api-key': acme.apiKey }, bearer(admin)]) {
        const response = await getUser(bob.userId, credential);
        expect(response.status).toBe(200);
        expect(response.body).toMatchObject({ user_id: bob.userId, email: 'bob@example.com' });
        expectFailsWith(await getUser(stranger.userId, credential), 404, 'not_found', NO_SUCH_USER);
      }
    });
  });

  describe('PUT /identity/users/:user_id/role', () => {
    it('the API key and the service admin grant and withdraw the role, with an audit event', async () => {
      const carol = await signIn('carol');
      const changes: unknown[] = [];
      const unsubscribe = t.router.exchange.audit.on('user.role_changed', (change) => {
        changes.push(change);
      });

      const granted = await setRole(carol.userId, 'org_admin', { 'x-api-key': acme.apiKey });
      expect(granted.status).toBe(200);
      expect(granted.body).toMatchObject({ user_id: carol.userId, role: 'org_admin' });
      const withdrawn = await setRole(carol.userId, 'member', { authorization: `Bearer ${ADMIN_TOKEN}` });
      expect(withdrawn.body).toMatchObject({ user_id: carol.userId, role: 'member' });
      unsubscribe();

      expect(changes).toEqual([
        { orgId: acme.orgId, userId: carol.userId, role: 'org_admin' },
        { orgId: acme.orgId, userId: carol.userId, role: 'member' },
      ]);
      expect((await t.store.getUser(acme.orgId, carol.userId))?.role).toBe('member');
    });

    it("refuses a user's or an org admin's token, another org's key and a bad role, changing nothing", async () => {
      const dave = await signIn('dave');
      const admin = await orgAdmin('erin');
      t.store.resetWrites();

      expectFailsWith(await setRole(dave.userId, 'org_admin', bearer(dave)), 401, 'unauthorized');
      expectFailsWith(await setRole(dave.userId, 'org_admin', bearer(admin)), 401, 'unauthorized');
      expectFailsWith(
        await setRole(dave.userId, 'org_admin', { 'x-api-key': other.apiKey }),
        404,
        'not_found',
        NO_SUCH_USER,
      );
      expectFailsWith(
        await setRole(dave.userId, 'owner', { 'x-api-key': acme.apiKey }),
        400,
        'invalid_request',
        /role/,
      );
      expectFailsWith(await setRole(dave.userId, 'org_admin', {}), 401, 'missing_api_key');

      expect(t.store.writes).toEqual([]);
      expect((await t.store.getUser(acme.orgId, dave.userId))?.role).toBe('member');
    });
  });

  describe('org-wide routes: webhooks', () => {
    const webhookCalls = (id: string) =>
      [
        ['post', '/notifications/webhooks', { url: RECEIVER, eventTypes: ['*'] }],
        ['get', '/notifications/webhooks', undefined],
        ['get', `/notifications/webhooks/${id}`, undefined],
        ['put', `/notifications/webhooks/${id}/subscriptions`, { eventTypes: ['user.created'] }],
        ['post', `/notifications/webhooks/${id}/rotate-secret`, undefined],
        ['post', `/notifications/webhooks/${id}/test`, undefined],
        ['get', `/notifications/webhooks/${id}/deliveries`, undefined],
        ['delete', `/notifications/webhooks/${id}`, undefined],
      ] as const;

    function call(
      method: string,
      path: string,
      body: object | undefined,
      credential: Record<string, string>,
    ) {
      const pending = (request(t.app) as unknown as Record<string, (path: string) => request.Test>)
        [method]?.(path)
        .set(credential);
      if (!pending) throw new Error(`no method ${method}`);
      return body === undefined ? pending : pending.send(body);
    }

    it("a plain user's token gets insufficient_role 403 on every webhook route, and nothing is written", async () => {
      const frank = await signIn('frank');
      const { id } = (
        await request(t.app)
          .post('/notifications/webhooks')
          .set('x-api-key', acme.apiKey)
          .send({ url: RECEIVER, eventTypes: ['user.created'] })
      ).body;
      t.store.resetWrites();

      for (const [method, path, body] of webhookCalls(id)) {
        expectFailsWith(
          await call(method, path, body, bearer(frank)),
          403,
          'insufficient_role',
          INSUFFICIENT_ROLE,
        );
      }

      expect(t.store.writes).toEqual([]);
      const [stored] = await t.store
        .listWebhookSubscriptions(acme.orgId)
        .then((all) => all.filter((s) => s.subscriptionId === id));
      expect(stored?.eventTypes).toEqual(['user.created']);
    });

    it.each([
      ['the org API key', 'api_key'],
      ["an org admin's access token (the seeds' curl)", 'org_admin'],
    ])('%s manages webhooks on every route', async (_, who) => {
      const credential =
        who === 'api_key' ? { 'x-api-key': acme.apiKey } : bearer(await orgAdmin(`admin-${Math.random()}`));
      const created = await call(
        'post',
        '/notifications/webhooks',
        { url: RECEIVER, eventTypes: ['*'] },
        credential,
      );
      expect(created.status).toBe(201);
      const statuses: number[] = [];
      for (const [method, path, body] of webhookCalls(created.body.id).slice(1)) {
        statuses.push((await call(method, path, body, credential)).status);
      }

      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200]);
      expect(await t.store.getWebhookSubscription(acme.orgId, created.body.id)).toBeNull();
    });

    it("GET /notifications/webhooks/:id returns one endpoint without its secret; another org's or an unknown id is 404", async () => {
      const created = await request(t.app)
        .post('/notifications/webhooks')
        .set('x-api-key', acme.apiKey)
        .send({ url: RECEIVER, description: 'one', eventTypes: ['user.created'] });
      const notFound = 'No such webhook in your organization.';

      const response = await request(t.app)
        .get(`/notifications/webhooks/${created.body.id}`)
        .set('x-api-key', acme.apiKey);
      expect(response.status).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.body).toEqual({
        id: created.body.id,
        url: RECEIVER,
        description: 'one',
        eventTypes: ['user.created'],
        disabled: false,
        created_at: created.body.created_at,
      });
      expect(JSON.stringify(response.body)).not.toContain('whsec_');
      for (const id of [created.body.id, crypto.randomUUID(), 'not-a-uuid']) {
        const credential =
          id === created.body.id ? { 'x-api-key': other.apiKey } : { 'x-api-key': acme.apiKey };
        expectFailsWith(
          await request(t.app).get(`/notifications/webhooks/${id}`).set(credential),
          404,
          'not_found',
          notFound,
        );
      }
    });

    it("a demoted org admin's unexpired token is refused at once on this instance, and within the lookup-cache bound on another", async () => {
      const admin = await orgAdmin(`demoted-${Math.random()}`);
      const otherInstance = createTestApp({
        store: recordingStore(backing.store),
        rateLimit: false,
        webhooks: LOCAL_WEBHOOKS,
        lookupCacheTtlSeconds: 1,
      });
      const list = (app: TestApp) => request(app.app).get('/notifications/webhooks').set(bearer(admin));
      expect((await list(otherInstance)).status).toBe(200);

      expect((await setRole(admin.userId, 'member', { 'x-api-key': acme.apiKey })).status).toBe(200);

      expectFailsWith(await list(t), 403, 'insufficient_role');
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expectFailsWith(await list(otherInstance), 403, 'insufficient_role');
      // Its own user stays readable: the token still names that user.
      expect((await getUser(admin.userId, bearer(admin))).status).toBe(200);
    });

    it("an org admin's token cannot change verification state", async () => {
      const admin = await orgAdmin(`verifier-${Math.random()}`);
      t.store.resetWrites();

      const response = await request(t.app)
        .patch(`/identity/users/${admin.userId}`)
        .set(bearer(admin))
        .send({ kyc_completed: true });

      expectFailsWith(response, 401, 'unauthorized');
      expect(t.store.writes).toEqual([]);
      expect((await t.store.getUser(acme.orgId, admin.userId))?.kycStatus).toBe('not_started');
    });
  });
});
