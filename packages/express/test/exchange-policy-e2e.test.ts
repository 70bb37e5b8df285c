import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRialtoToken } from '../src/index.js';
import { ADMIN_TOKEN, createTestApp, exchange, expectFailsWith, type TestApp } from './helpers.js';

/*
 * The "Done when" list of exchange policies, through HTTP, with ID tokens from a real OpenID
 * provider (oidc-provider) carrying Google Workspace's `hd`, `groups` and a custom `department`.
 */

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const CONDITION = 'claims.hd == "partner.example" && "staff" in claims.groups';
const MAPPINGS = { department: 'claims.department', team_count: 'size(claims.groups)' };
const STAFF = { hd: 'partner.example', groups: ['staff', 'eng'], department: 'Research' };

function register(t: TestApp, body: Record<string, unknown>) {
  return request(t.app)
    .post('/identity/organizations')
    .set(admin)
    .send({ name: 'Partner', ...body });
}

describe('exchange policies against a real OpenID provider', () => {
  let idp: DevIdp;
  let t: TestApp;
  let apiKey: string;
  let orgId: string;

  beforeAll(async () => {
    idp = await startDevIdp();
    t = createTestApp();
    t.app.get('/api/me', requireRialtoToken({ exchange: t.router }), (req, res) => {
      const claims = req.rialto?.claims as unknown as Record<string, unknown>;
      res.json({ department: claims.department, team_count: claims.team_count, org_id: claims.org_id });
    });
    const registered = await register(t, {
      issuer: idp.issuer,
      client_ids: [idp.clientId],
      condition: CONDITION,
      claim_mappings: MAPPINGS,
    });
    expect(registered.status).toBe(201);
    apiKey = registered.body.api_key;
    orgId = registered.body.org_id;
  });
  afterAll(() => idp.close());

  async function mappedClaimsSeenBy(accessToken: string) {
    const resource = await request(t.app).get('/api/me').set('authorization', `Bearer ${accessToken}`);
    expect(resource.status).toBe(200);
    return resource.body;
  }

  it('admits a token the condition holds for; the mapped claims reach a resource server in the verified access token', async () => {
    const idToken = await idp.getIdToken({ email: 'ada@partner.example', claims: STAFF });
    const response = await exchange(t.app, apiKey, { token: idToken });
    expect(response.status).toBe(200);

    const resource = await request(t.app)
      .get('/api/me')
      .set('authorization', `Bearer ${response.body.access_token}`);

    expect(resource.status).toBe(200);
    expect(resource.body).toEqual({ department: 'Research', team_count: 2, org_id: expect.any(String) });
  });

  it('keeps the mapped claims in every access token refreshed at /identity/auth/refresh', async () => {
    const idToken = await idp.getIdToken({ email: 'grace@partner.example', claims: STAFF });
    let tokens = (await exchange(t.app, apiKey, { token: idToken })).body;

    for (let round = 0; round < 2; round += 1) {
      const refreshed = await request(t.app)
        .post('/identity/auth/refresh')
        .send({ refresh_token: tokens.refresh_token });
      expect(refreshed.status).toBe(200);
      tokens = refreshed.body;
      expect(await mappedClaimsSeenBy(tokens.access_token)).toEqual({
        department: 'Research',
        team_count: 2,
        org_id: orgId,
      });
    }
  });

  it('keeps the mapped claims in access tokens refreshed with grant_type=refresh_token at /oauth/token', async () => {
    const assertion = await idp.getIdToken({ email: 'hedy@partner.example', claims: STAFF });
    const client = { client_id: orgId, client_secret: apiKey };
    const granted = await request(t.app)
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion, ...client });
    expect(granted.status).toBe(200);

    const refreshed = await request(t.app)
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: granted.body.refresh_token, ...client });

    expect(refreshed.status).toBe(200);
    expect(await mappedClaimsSeenBy(refreshed.body.access_token)).toEqual({
      department: 'Research',
      team_count: 2,
      org_id: orgId,
    });
  });

  it('refuses a token it is false for with the exact error, writing nothing', async () => {
    const idToken = await idp.getIdToken({
      email: 'eve@elsewhere.example',
      claims: { ...STAFF, hd: 'elsewhere.example' },
    });
    t.store.resetWrites();

    const response = await exchange(t.app, apiKey, { token: idToken });

    expect(response.status).toBe(403);
    expect(response.body).toEqual({
      error: 'access_denied',
      error_description:
        'Policy version 1 of this issuer refused the identity: its condition is false for this identity.',
    });
    expect(t.store.writes).toEqual([]);
  });

  it('refuses to register a mapping to a claim the exchange owns', async () => {
    const response = await register(t, {
      issuer: 'http://127.0.0.1:9/other',
      claim_mappings: { sub: 'claims.email' },
    });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      'claim_mappings.sub: is a claim the exchange sets itself',
    );
  });

  it('refuses to register a condition that does not compile, with the position of the error', async () => {
    const response = await register(t, {
      issuer: 'http://127.0.0.1:9/other',
      condition: 'claims.hd == "partner.example" &&\n  claims.groups.exists(g, g ==)',
    });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      /^condition: syntax error: .* \(line 2, column \d+\)\.$/,
    );
  });

  it('refuses to register an expression beyond the cost limit', async () => {
    const response = await register(t, {
      issuer: 'http://127.0.0.1:9/other',
      claim_mappings: { pairs: 'claims.groups.map(g, claims.groups.filter(h, h != g))' },
    });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      /^claim_mappings\.pairs: its estimated worst-case cost of [\d,]+ units exceeds the policy limit of 1,000,000/,
    );
  });
});

describe('the exchange policy hook against a real OpenID provider', () => {
  let idp: DevIdp;
  let t: TestApp;
  let apiKey: string;
  let behaviour: 'slow' | 'throw' = 'slow';
  const logged: string[] = [];

  beforeAll(async () => {
    idp = await startDevIdp();
    t = createTestApp({
      exchangePolicyHookTimeoutMs: 300,
      async exchangePolicyHook({ signal }) {
        if (behaviour === 'throw') throw new Error('partner directory unreachable: token=s3cr3t');
        // Settles only when the exchange gives up on it.
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        return { claims: { late: true } };
      },
      logger: {
        debug() {},
        info() {},
        warn() {},
        error(object: unknown) {
          const error = (object as { err?: { cause?: unknown } })?.err;
          logged.push(String(error?.cause ?? error));
        },
      },
    });
    const registered = await register(t, { issuer: idp.issuer, client_ids: [idp.clientId] });
    apiKey = registered.body.api_key;
  });
  afterAll(() => idp.close());

  it('answers 503 when the hook is slower than its deadline, and writes nothing', async () => {
    behaviour = 'slow';
    const idToken = await idp.getIdToken({ email: 'slow@partner.example', claims: STAFF });
    t.store.resetWrites();

    const response = await exchange(t.app, apiKey, { token: idToken });

    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'The exchange policy did not answer in time. Retry later.',
    });
    expect(t.store.writes).toEqual([]);
  });

  it('answers 500 when the hook throws, logging the cause and sending none of it', async () => {
    behaviour = 'throw';
    const idToken = await idp.getIdToken({ email: 'throw@partner.example', claims: STAFF });
    logged.length = 0;

    const response = await exchange(t.app, apiKey, { token: idToken });

    expect(response.status).toBe(500);
    expect(response.body).toEqual({
      error: 'server_error',
      error_description: 'An unexpected error occurred.',
    });
    expect(logged.join('\n')).toContain('partner directory unreachable');
  });
});
