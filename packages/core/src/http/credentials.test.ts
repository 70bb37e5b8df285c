import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import type { UserRecord } from '../store/store.js';
import type { RialtoAccessTokenClaims } from '../tokens/mint-tokens.js';
import { type AdminAuthOptions, createAdminAuth } from './admin-auth.js';
import {
  type Credential,
  type CredentialServices,
  createCredentialCheck,
  credentialErrors,
  securityRequirements,
} from './credentials.js';
import type { RequestLike } from './http-types.js';

const ORG_ID = '11111111-1111-4111-8111-111111111111';
const ADMIN_TOKEN = 'admin-token-0123456789';
const API_KEY = 'the-org-key';
const MEMBER = { id: '33333333-3333-4333-8333-333333333333', token: 'member-token' };
const ADMIN_USER = { id: '44444444-4444-4444-8444-444444444444', token: 'admin-user-token' };
const DEMOTED = { id: '55555555-5555-4555-8555-555555555555', token: 'demoted-token' };

// Local fakes: one API key; three access tokens, two of which claim the org admin role, of users
// whose stored roles say whether the claim still holds.
function fakeServices(admin: AdminAuthOptions = { adminToken: ADMIN_TOKEN }): CredentialServices {
  const tokens = new Map([
    [MEMBER.token, { user: MEMBER.id, role: 'member' }],
    [ADMIN_USER.token, { user: ADMIN_USER.id, role: 'org_admin' }],
    [DEMOTED.token, { user: DEMOTED.id, role: 'org_admin' }],
  ]);
  const storedRoles = new Map([
    [ADMIN_USER.id, 'org_admin'],
    [DEMOTED.id, 'member'],
  ]);
  return {
    options: { issuer: 'https://api.example.com' },
    adminAuth: createAdminAuth(admin),
    apiKeys: {
      async authenticate(headerValue) {
        if (headerValue === API_KEY) return ORG_ID;
        throw new RialtoError('invalid_api_key');
      },
    },
    accessTokens: {
      async authenticate({ headers }) {
        const token = String(headers.authorization).replace(/^Bearer /, '');
        const known = tokens.get(token);
        if (!known) throw new RialtoError('invalid_access_token');
        const claims = { org_id: ORG_ID, user_id: known.user, org_role: known.role };
        return { claims: claims as RialtoAccessTokenClaims, token };
      },
    },
    userLookup: {
      async get(userId) {
        const role = storedRoles.get(userId);
        return role === undefined ? null : ({ userId, orgId: ORG_ID, role } as UserRecord);
      },
    },
  };
}

const withHeaders = (headers: RequestLike['headers']): RequestLike => ({
  method: 'GET',
  path: '/',
  headers,
});
const bearer = (token: string) => withHeaders({ authorization: `Bearer ${token}` });
const NONE = withHeaders({});

async function outcome(credentials: Credential[], request: RequestLike, services = fakeServices()) {
  const check = createCredentialCheck(credentials, services);
  try {
    return await check?.(request);
  } catch (error) {
    const { code, description } = error as RialtoError;
    return { code, description };
  }
}

describe('the credential check of a route', () => {
  it('of an admin route answers 404 while no admin credential is configured, as if it did not exist', async () => {
    expect(await outcome(['adminToken'], bearer(ADMIN_TOKEN), fakeServices({}))).toEqual({
      code: 'not_found',
      description: 'The resource does not exist.',
    });
  });

  it.each([
    ['no credential', NONE, { code: 'unauthorized', description: 'Admin credentials are required.' }],
    [
      'a wrong token',
      bearer('nope'),
      { code: 'unauthorized', description: 'Admin credentials are not valid.' },
    ],
    ['an API key', withHeaders({ 'x-api-key': API_KEY }), { code: 'unauthorized' }],
    ['the admin token', bearer(ADMIN_TOKEN), { kind: 'admin' }],
  ])('of an admin route answers %s with %j', async (_, request, expected) => {
    expect(await outcome(['adminToken'], request)).toMatchObject(expected);
  });

  it('of an admin route admits whom the authorizeAdmin hook admits', async () => {
    const services = fakeServices({ authorizeAdmin: (request) => request.headers['x-internal'] === 'yes' });
    expect(await outcome(['adminToken'], withHeaders({ 'x-internal': 'yes' }), services)).toEqual({
      kind: 'admin',
    });
  });

  it.each([
    ['its key', withHeaders({ 'x-api-key': API_KEY }), { kind: 'api_key', orgId: ORG_ID }],
    // The key decides when present, even beside admin credentials.
    [
      'a bad key beside the admin token',
      withHeaders({ 'x-api-key': 'bad', authorization: `Bearer ${ADMIN_TOKEN}` }),
      { code: 'invalid_api_key' },
    ],
    ['the admin token', bearer(ADMIN_TOKEN), { kind: 'admin' }],
    [
      'no credential',
      NONE,
      {
        code: 'missing_api_key',
        description: "The organization's X-API-Key header or admin credentials are required.",
      },
    ],
    [
      'a wrong token',
      bearer('nope'),
      { code: 'unauthorized', description: 'Admin credentials are not valid.' },
    ],
  ])('of a route for the API key or the admin answers %s with %j', async (_, request, expected) => {
    expect(await outcome(['apiKey', 'adminToken'], request)).toMatchObject(expected);
  });

  it.each([
    ['its key', withHeaders({ 'x-api-key': API_KEY }), { kind: 'api_key', orgId: ORG_ID }],
    ['a member', bearer(MEMBER.token), { kind: 'user', userId: MEMBER.id, isOrgAdmin: false }],
    ['an org admin', bearer(ADMIN_USER.token), { kind: 'user', userId: ADMIN_USER.id, isOrgAdmin: true }],
    // The claim alone is not trusted: the store says this user was demoted.
    ['a demoted org admin', bearer(DEMOTED.token), { kind: 'user', userId: DEMOTED.id, isOrgAdmin: false }],
    ['a bad token', bearer('forged'), { code: 'invalid_access_token' }],
    ['the admin token', bearer(ADMIN_TOKEN), { code: 'invalid_access_token' }],
    [
      'no credential',
      NONE,
      {
        code: 'unauthorized',
        description: "The organization's X-API-Key header or a Bearer access token is required.",
      },
    ],
  ])('of a route for the API key or any user answers %s with %j', async (_, request, expected) => {
    expect(await outcome(['apiKey', 'accessToken'], request)).toMatchObject(expected);
  });

  it.each([
    ['an org admin', bearer(ADMIN_USER.token), { kind: 'user', isOrgAdmin: true }],
    ['a member', bearer(MEMBER.token), { code: 'insufficient_role' }],
    ['a demoted org admin', bearer(DEMOTED.token), { code: 'insufficient_role' }],
    ['its key', withHeaders({ 'x-api-key': API_KEY }), { kind: 'api_key' }],
  ])('of an org-wide route answers %s with %j', async (_, request, expected) => {
    expect(await outcome(['apiKey', 'orgAdminToken'], request)).toMatchObject(expected);
  });

  it.each([
    ['no credential', NONE, fakeServices(), { kind: 'anonymous' }],
    ['a wrong token', bearer('nope'), fakeServices(), { kind: 'anonymous' }],
    ['the admin token', bearer(ADMIN_TOKEN), fakeServices(), { kind: 'admin' }],
    ['any token while no admin is configured', bearer(ADMIN_TOKEN), fakeServices({}), { kind: 'anonymous' }],
  ])('with optional admin credentials answers %s as %j', async (_, request, services, expected) => {
    expect(await outcome(['adminToken', 'anonymous'], request, services)).toEqual(expected);
  });

  it('is absent for a public route, and "anonymous" alone is a TypeError', () => {
    expect(createCredentialCheck([], fakeServices())).toBeUndefined();
    expect(() => createCredentialCheck(['anonymous'], fakeServices())).toThrow(TypeError);
  });
});

describe('what the OpenAPI document says of credentials', () => {
  it.each([
    [[], []],
    [['adminToken'], [{ adminToken: [] }]],
    [
      ['apiKey', 'orgAdminToken'],
      [{ apiKey: [] }, { accessToken: [] }],
    ],
    [
      ['adminToken', 'anonymous'],
      [{ adminToken: [] }, {}],
    ],
  ] as const)('names %j as the security requirements %j', (credentials, requirements) => {
    expect(securityRequirements(credentials)).toEqual(requirements);
  });

  it.each([
    [[], false, []],
    [['adminToken', 'anonymous'], false, []],
    [['adminToken'], false, ['unauthorized', 'not_found', 'rate_limited']],
    [['apiKey'], false, ['missing_api_key', 'invalid_api_key', 'organization_suspended', 'rate_limited']],
    [
      ['apiKey', 'adminToken'],
      true,
      [
        'missing_api_key',
        'invalid_api_key',
        'organization_suspended',
        'unauthorized',
        'org_mismatch',
        'rate_limited',
      ],
    ],
    [
      ['apiKey', 'orgAdminToken'],
      false,
      [
        'insufficient_role',
        'invalid_api_key',
        'organization_suspended',
        'unauthorized',
        'invalid_access_token',
        'invalid_dpop_proof',
        'rate_limited',
      ],
    ],
  ] as const)('gives %j (binding {org_id}: %s) the errors %j', (credentials, bindsOrganization, errors) => {
    expect([...new Set(credentialErrors(credentials, bindsOrganization))].sort()).toEqual([...errors].sort());
  });
});
