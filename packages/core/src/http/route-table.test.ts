import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { createAdminAuth } from './admin-auth.js';
import type { Credential, CredentialServices } from './credentials.js';
import type { RequestLike, ResponseLike } from './http-types.js';
import { json } from './messages.js';
import { declareRoute, type RouteKey } from './route.js';
import { createRouteTable } from './route-table.js';

const ORG_ID = '11111111-1111-4111-8111-111111111111';
const OTHER_ORG_ID = '22222222-2222-4222-8222-222222222222';
const ADMIN_TOKEN = 'admin-token-0123456789';
const API_KEY = 'the-org-key';

// A local fake of the services a credential check uses: one valid API key, no access tokens.
const services: CredentialServices = {
  adminAuth: createAdminAuth({ adminToken: ADMIN_TOKEN }),
  apiKeys: {
    async authenticate(headerValue) {
      if (headerValue === API_KEY) return ORG_ID;
      throw new RialtoError('invalid_api_key');
    },
  },
  accessTokens: {
    async authenticate() {
      throw new RialtoError('invalid_access_token');
    },
  },
  userLookup: { get: async () => null },
};

function route(key: RouteKey, credentials: Credential[] = [], extra: object = {}) {
  const run = vi.fn(async (): Promise<ResponseLike> => json(200, {}));
  return {
    run,
    route: declareRoute({
      route: key,
      credentials,
      operationId: key,
      summary: key,
      tag: 'Users',
      responses: {},
      errors: [],
      run,
      ...extra,
    }),
  };
}

const request = (overrides: Partial<RequestLike> = {}): RequestLike => ({
  method: 'POST',
  path: '/',
  headers: {},
  ...overrides,
});

describe('createRouteTable', () => {
  const exchange = route('POST /identity/auth/exchange');
  const me = route('GET /identity/users/me');
  const user = route('PATCH /identity/users/{user_id}');
  const role = route('PUT /identity/users/{user_id}/role');
  const table = createRouteTable([exchange.route, me.route, user.route, role.route], services);

  it('answers a path without parameters from one map entry, the same matches every time', () => {
    const first = table.match('/identity/auth/exchange');
    expect(first.map(({ served }) => served.route)).toEqual([exchange.route]);
    expect(table.match('/identity/auth/exchange')).toBe(first);
  });

  it('also lists, for a literal path, the templates that match it, worked out once', () => {
    const matches = table.match('/identity/users/me');
    expect(matches.map(({ served, params }) => [served.route.method, params])).toEqual([
      ['GET', {}],
      ['PATCH', { user_id: 'me' }],
    ]);
    expect(table.match('/identity/users/me')).toBe(matches);
  });

  it('gives a template its decoded parameters by name, and a malformed escape as it came', () => {
    expect(table.match('/identity/users/a%20b/role')[0]?.params).toEqual({ user_id: 'a b' });
    expect(table.match('/identity/users/%E0%A4%A/role')[0]?.params).toEqual({ user_id: '%E0%A4%A' });
  });

  it.each([
    ['/identity/auth/exchange', true],
    ['/identity/users/abc', true],
    ['/identity/users/abc/role', true],
    ['/identity/users/abc/role/extra', false],
    ['/identity/users', false],
    ['/identity/auth/exchange/', false],
    ['/portfolio', false],
  ])('says whether it serves %s: %s', (path, isServed) => {
    expect(table.handlesPath(path)).toBe(isServed);
    expect(table.match(path).length > 0).toBe(isServed);
  });

  it('refuses two routes with one method and one template, whatever their parameters are named', () => {
    const twice = [route('GET /users/{user_id}').route, route('GET /users/{id}').route];
    expect(() => createRouteTable(twice, services)).toThrow(/"GET \/users\/\{id\}" is declared twice/);
    const methods = [route('GET /users/{user_id}').route, route('PATCH /users/{user_id}').route];
    expect(() => createRouteTable(methods, services)).not.toThrow();
  });
});

describe('serving a route', () => {
  const bodySchema = z.strictObject({ name: z.string() });

  it('checks credentials before the body, and runs nothing for a caller it refuses', async () => {
    const declared = route('POST /things', ['adminToken'], { body: bodySchema });
    const [match] = createRouteTable([declared.route], services).match('/things');
    const refused = match?.served.serve(request({ body: '{"nope":1}' }), match.params);
    await expect(refused).rejects.toMatchObject({ code: 'unauthorized' });
    expect(declared.run).not.toHaveBeenCalled();
  });

  it('refuses a body its schema refuses, naming the field, before running', async () => {
    const declared = route('POST /things', ['adminToken'], { body: bodySchema });
    const [match] = createRouteTable([declared.route], services).match('/things');
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await expect(
      match?.served.serve(request({ headers: admin, body: '{"name":1}' }), match.params),
    ).rejects.toMatchObject({ code: 'invalid_request', description: expect.stringMatching(/^name: /) });
    expect(declared.run).not.toHaveBeenCalled();

    await match?.served.serve(request({ headers: admin, body: '{"name":"Acme"}' }), match.params);
    expect(declared.run).toHaveBeenCalledWith(
      expect.anything(),
      {},
      { kind: 'admin' },
      { name: 'Acme' },
      undefined,
    );
  });

  it("binds {org_id}: another organization's key is org_mismatch before the body is read", async () => {
    const declared = route('PATCH /orgs/{org_id}', ['apiKey', 'adminToken'], { body: bodySchema });
    const table = createRouteTable([declared.route], services);
    const serve = async (orgId: string, headers: RequestLike['headers']) => {
      const [match] = table.match(`/orgs/${orgId}`);
      return match?.served.serve(request({ headers, body: 'not json' }), match.params);
    };
    await expect(serve(OTHER_ORG_ID, { 'x-api-key': API_KEY })).rejects.toMatchObject({
      code: 'org_mismatch',
    });
    await expect(serve(ORG_ID, { 'x-api-key': API_KEY })).rejects.toMatchObject({ code: 'invalid_request' });
    // The admin acts on any organization.
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await expect(serve(OTHER_ORG_ID, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(declared.run).not.toHaveBeenCalled();
  });

  it('hands a route that handles the request itself the raw request, checking nothing', async () => {
    const declared = route('POST /identity/auth/exchange', ['apiKey'], {
      body: bodySchema,
      handlesRequestItself: true,
    });
    const [match] = createRouteTable([declared.route], services).match('/identity/auth/exchange');
    const raw = request({ body: 'not json' });
    await match?.served.serve(raw, match.params);
    expect(declared.run).toHaveBeenCalledWith(raw, {}, undefined, undefined, undefined);
  });
});
