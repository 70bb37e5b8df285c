import { createServer } from 'node:net';
import {
  type ExchangeExplanation,
  type ExplainStepName,
  exchangeErrorFix,
  type RialtoErrorCode,
} from '@rialto-exchange/core';
import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  type IssuerBehaviour,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

function explain(app: TestApp['app'], apiKey: string | undefined, body: unknown) {
  const call = request(app).post('/identity/auth/exchange/explain').set('content-type', 'application/json');
  if (apiKey !== undefined) call.set('x-api-key', apiKey);
  return call.send(typeof body === 'string' ? body : JSON.stringify(body));
}

const STEPS: ExplainStepName[] = [
  'api_key',
  'token_shape',
  'issuer',
  'discovery',
  'signature',
  'times',
  'token_type',
  'audience',
  'claims',
  'grant',
  'policy',
  'linking',
];

type OrgName = 'acme' | 'other' | 'clients' | 'strict' | 'gone' | 'linkOnly' | 'oid';

interface Fixture {
  t: TestApp;
  keys: Record<OrgName, string>;
  idp: LocalIssuer;
  clientIdp: LocalIssuer;
  strictIdp: LocalIssuer;
  linkOnlyIdp: LocalIssuer;
  oidIdp: LocalIssuer;
  goneIssuer: string;
}

interface ErrorCase {
  /** The test this case comes from, and what it sends. */
  name: string;
  step: ExplainStepName;
  status: number;
  error: RialtoErrorCode;
  key?: OrgName;
  behaviour?: IssuerBehaviour;
  /** Exchanges that must have happened first, e.g. the user an account conflict needs. */
  before?(f: Fixture): Promise<void>;
  body(f: Fixture): Promise<unknown> | unknown;
}

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const signed =
  (claims: Record<string, unknown> = {}) =>
  async (f: Fixture) => ({
    token: await f.idp.sign(idTokenClaims(f.idp.issuer, claims)),
  });
const signedFor =
  (issuer: 'clientIdp' | 'linkOnlyIdp' | 'oidIdp', claims: Record<string, unknown> = {}) =>
  async (f: Fixture) => ({ token: await f[issuer].sign(idTokenClaims(f[issuer].issuer, claims)) });

/**
 * Every refusal of exchange-errors.test.ts, id-token-claims.test.ts, issuer-registrations.test.ts
 * and account-linking.test.ts (plus link_only's from org-lifecycle.test.ts), as one table.
 * API-key refusals are not explained (the debugger answers them itself, below); a replayed token
 * under singleUseIdTokens is not either: finding out would use the token up.
 */
const CASES: ErrorCase[] = [
  {
    name: 'a body that is not JSON',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => '{"token": ',
  },
  {
    name: 'a body without token',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => ({}),
  },
  {
    name: 'a token that is not a string',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => ({ token: 42 }),
  },
  { name: 'a JSON array body', step: 'token_shape', status: 400, error: 'invalid_token', body: () => [1, 2] },
  {
    name: 'a token with two parts',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => ({ token: 'aaa.bbb' }),
  },
  {
    name: 'a token with four parts',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => ({ token: 'aaa.bbb.ccc.ddd' }),
  },
  {
    name: 'non-base64url characters',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => ({ token: 'ab$.c!d.efg' }),
  },
  {
    name: 'a header that is not JSON',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => ({ token: 'bm90anNvbg.e30.c2ln' }),
  },
  {
    name: 'a JSON array payload',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => ({ token: 'eyJhbGciOiJSUzI1NiJ9.WzEsMl0.c2ln' }),
  },
  {
    name: 'an oversize token',
    step: 'token_shape',
    status: 400,
    error: 'invalid_token',
    body: () => ({ token: `eyJhbGciOiJSUzI1NiJ9.${'a'.repeat(20_000)}.c2ln` }),
  },
  { name: 'no iss', step: 'issuer', status: 401, error: 'invalid_issuer', body: signed({ iss: undefined }) },
  {
    name: 'an issuer nobody registered',
    step: 'issuer',
    status: 403,
    error: 'issuer_not_registered',
    body: async (f) => ({ token: await f.idp.sign(idTokenClaims('https://stranger.example')) }),
  },
  {
    name: "another org's key",
    step: 'issuer',
    status: 403,
    error: 'org_mismatch',
    key: 'other',
    body: signed(),
  },
  {
    name: 'a client of the shared issuer that no org registered',
    step: 'issuer',
    status: 403,
    error: 'issuer_not_registered',
    key: 'other',
    body: signedFor('clientIdp', { aud: 'nobody-app' }),
  },
  ...(['down', 'not-found', 'html', 'hang', 'oversize'] as const).map(
    (behaviour): ErrorCase => ({
      name: `an IdP that is ${behaviour}`,
      step: 'discovery',
      status: 502,
      error: 'discovery_failed',
      behaviour,
      body: signed(),
    }),
  ),
  {
    name: 'nothing listening at the issuer',
    step: 'discovery',
    status: 502,
    error: 'discovery_failed',
    key: 'gone',
    body: async (f) => ({ token: await f.idp.sign(idTokenClaims(f.goneIssuer)) }),
  },
  {
    name: 'a discovery document naming another issuer',
    step: 'discovery',
    status: 401,
    error: 'invalid_issuer',
    behaviour: 'wrong-issuer',
    body: signed(),
  },
  {
    name: 'another key under the same kid',
    step: 'signature',
    status: 401,
    error: 'invalid_signature',
    body: async (f) => ({
      token: await f.idp.sign(idTokenClaims(f.idp.issuer), {
        key: (await generateKeyPair('RS256')).privateKey,
      }),
    }),
  },
  {
    name: 'a tampered payload',
    step: 'signature',
    status: 401,
    error: 'invalid_signature',
    body: async (f) => {
      const [header, , signature] = (await f.idp.sign(idTokenClaims(f.idp.issuer))).split('.');
      return {
        token: `${header}.${b64(idTokenClaims(f.idp.issuer, { email: 'ceo@example.com' }))}.${signature}`,
      };
    },
  },
  {
    name: 'alg none',
    step: 'signature',
    status: 401,
    error: 'invalid_signature',
    body: (f) => ({ token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64(idTokenClaims(f.idp.issuer))}.` }),
  },
  {
    name: "HS256 keyed with the IdP's public key",
    step: 'signature',
    status: 401,
    error: 'invalid_signature',
    body: async (f) => {
      const jwks = (await (await fetch(`${f.idp.issuer}/jwks`)).json()) as { keys: unknown[] };
      const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
      return { token: await f.idp.sign(idTokenClaims(f.idp.issuer), { alg: 'HS256', key: secret }) };
    },
  },
  {
    name: 'an unknown kid',
    step: 'signature',
    status: 401,
    error: 'invalid_signature',
    body: async (f) => ({ token: await f.idp.sign(idTokenClaims(f.idp.issuer), { kid: 'unknown-kid' }) }),
  },
  {
    name: 'an algorithm the org does not allow',
    step: 'signature',
    status: 401,
    error: 'invalid_signature',
    key: 'strict',
    body: async (f) => ({ token: await f.strictIdp.sign(idTokenClaims(f.strictIdp.issuer)) }),
  },
  {
    name: 'a token with crit',
    step: 'signature',
    status: 400,
    error: 'invalid_token',
    body: async (f) => ({
      token: f.idp.signRaw(
        { alg: 'RS256', kid: f.idp.kid, crit: ['exp'], exp: 1 },
        JSON.stringify(idTokenClaims(f.idp.issuer)),
      ),
    }),
  },
  {
    name: 'exp past the tolerance',
    step: 'times',
    status: 401,
    error: 'token_expired',
    body: signed({ iat: now() - 700, exp: now() - 60 }),
  },
  {
    name: 'nbf in the future',
    step: 'times',
    status: 400,
    error: 'invalid_token',
    body: signed({ nbf: now() + 600 }),
  },
  {
    name: 'iat in the future',
    step: 'times',
    status: 400,
    error: 'invalid_token',
    body: signed({ iat: now() + 600 }),
  },
  {
    name: 'exp as a string',
    step: 'times',
    status: 400,
    error: 'invalid_token',
    body: signed({ exp: String(now() + 600) }),
  },
  { name: 'no exp', step: 'times', status: 400, error: 'invalid_token', body: signed({ exp: undefined }) },
  { name: 'no iat', step: 'times', status: 400, error: 'invalid_token', body: signed({ iat: undefined }) },
  {
    name: 'exp beyond an ID token lifetime',
    step: 'times',
    status: 400,
    error: 'invalid_token',
    body: signed({ exp: now() + 30 * 86_400 }),
  },
  ...['at+jwt', 'logout+jwt', 'application/at+jwt', 'JOSE', 'secevent+jwt'].map(
    (typ): ErrorCase => ({
      name: `typ ${typ}`,
      step: 'token_type',
      status: 400,
      error: 'invalid_token',
      body: async (f) => ({ token: await f.idp.sign(idTokenClaims(f.idp.issuer), { header: { typ } }) }),
    }),
  ),
  {
    name: 'a back-channel logout token',
    step: 'token_type',
    status: 400,
    error: 'invalid_token',
    body: signed({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, email: undefined }),
  },
  {
    name: 'a Cognito access token',
    step: 'token_type',
    status: 400,
    error: 'invalid_token',
    key: 'clients',
    body: signedFor('clientIdp', {
      aud: undefined,
      email: undefined,
      token_use: 'access',
      client_id: 'partner-app',
    }),
  },
  ...(
    [
      ['no aud', { aud: undefined }],
      ['only azp', { aud: undefined, azp: 'partner-app' }],
      ['an empty aud list', { aud: [] }],
      ['a non-string aud', { aud: [42] }],
      [
        'an untrusted audience beside a trusted one',
        { aud: ['partner-app', 'untrusted-app'], azp: 'partner-app' },
      ],
      ['several audiences without azp', { aud: ['partner-app', 'partner-android'] }],
      [
        'several audiences with a foreign azp',
        { aud: ['partner-app', 'partner-android'], azp: 'someone-else' },
      ],
      ['a client the org did not register', { aud: 'another-app' }],
    ] as const
  ).map(
    ([name, claims]): ErrorCase => ({
      name,
      step: 'audience',
      status: 401,
      error: 'invalid_audience',
      key: 'clients',
      body: signedFor('clientIdp', claims),
    }),
  ),
  {
    name: 'no aud for an org without client_ids',
    step: 'audience',
    status: 401,
    error: 'invalid_audience',
    body: signed({ aud: undefined }),
  },
  { name: 'no sub', step: 'claims', status: 400, error: 'invalid_token', body: signed({ sub: undefined }) },
  {
    name: 'no email anywhere',
    step: 'claims',
    status: 400,
    error: 'invalid_token',
    body: signed({ email: undefined, preferred_username: 'ada', upn: 'not an email' }),
  },
  {
    name: 'a control character in sub',
    step: 'claims',
    status: 400,
    error: 'invalid_token',
    body: signed({ sub: 'user\u0000123' }),
  },
  {
    name: 'a control character in email',
    step: 'claims',
    status: 400,
    error: 'invalid_token',
    body: signed({ email: 'ada@example.com\u001b[2J' }),
  },
  {
    name: 'no oid for an issuer keyed on oid',
    step: 'claims',
    status: 400,
    error: 'invalid_token',
    key: 'oid',
    body: signedFor('oidIdp'),
  },
  ...(
    [
      ['an unverified copy of an existing email', { email_verified: false }],
      ['an absent email_verified under the verified policy', { email_verified: undefined }],
      ['email_verified "no"', { email_verified: 'no' }],
      [
        'an existing email in preferred_username',
        { email: undefined, preferred_username: 'ada@example.com' },
      ],
    ] as const
  ).map(
    ([name, claims]): ErrorCase => ({
      name,
      step: 'linking',
      status: 409,
      error: 'account_conflict',
      before: async (f) => {
        const first = await exchange(f.t.app, f.keys.acme, await signed()(f));
        expect(first.status).toBe(200);
      },
      body: signed({ sub: 'user-999', ...claims }),
    }),
  ),
  {
    name: 'an unknown person in a link_only org',
    step: 'linking',
    status: 403,
    error: 'user_not_provisioned',
    key: 'linkOnly',
    body: signedFor('linkOnlyIdp'),
  },
];

describe('POST /identity/auth/exchange/explain', () => {
  let idp: LocalIssuer;
  let otherIdp: LocalIssuer;
  let clientIdp: LocalIssuer;
  let strictIdp: LocalIssuer;
  let linkOnlyIdp: LocalIssuer;
  let oidIdp: LocalIssuer;
  let goneIssuer: string;

  beforeAll(async () => {
    [idp, otherIdp, clientIdp, strictIdp, linkOnlyIdp, oidIdp] = await Promise.all([
      startLocalIssuer(),
      startLocalIssuer(),
      startLocalIssuer(),
      startLocalIssuer(),
      startLocalIssuer(),
      startLocalIssuer(),
    ]);
    goneIssuer = `http://127.0.0.1:${await closedPort()}`;
  });
  afterAll(async () => {
    await Promise.all(
      [idp, otherIdp, clientIdp, strictIdp, linkOnlyIdp, oidIdp].map((issuer) => issuer.close()),
    );
  });

  /** A fresh service (its discovery cache included) with every org the cases use. */
  async function fixture(options: Parameters<typeof createTestApp>[0] = {}): Promise<Fixture> {
    const t = createTestApp({ fetchTimeoutMs: 300, ...options });
    const register = async (name: string, body: Record<string, unknown>) =>
      (await registerOrganization(t.app, { name, ...body })).apiKey;
    const keys: Record<OrgName, string> = {
      acme: await register('Acme', { issuer: idp.issuer }),
      other: await register('Other', { issuer: otherIdp.issuer }),
      clients: await register('Clients', {
        issuer: clientIdp.issuer,
        client_ids: ['partner-app', 'partner-android'],
      }),
      strict: await register('Strict', { issuer: strictIdp.issuer, allowed_algorithms: ['ES256'] }),
      gone: await register('Gone', { issuer: goneIssuer }),
      linkOnly: await register('Link only', { issuer: linkOnlyIdp.issuer }),
      oid: await register('Oid', { issuer: oidIdp.issuer, subject_claim: 'oid' }),
    };
    const linkOnlyOrg = keys.linkOnly.slice('rialto_ak_'.length, 'rialto_ak_'.length + 36);
    const switched = await request(t.app)
      .patch(`/identity/organizations/${linkOnlyOrg}`)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ provisioning: 'link_only' });
    expect(switched.status).toBe(200);
    t.store.resetWrites();
    return { t, keys, idp, clientIdp, strictIdp, linkOnlyIdp, oidIdp, goneIssuer };
  }

  it.each(CASES.map((c) => [c.name, c] as const))(
    'names the error the exchange answers as its first failing step: %s',
    async (_, c) => {
      const f = await fixture();
      await c.before?.(f);
      f.t.store.resetWrites();
      idp.behaviour = c.behaviour ?? 'ok';
      try {
        const key = f.keys[c.key ?? 'acme'];
        const body = await c.body(f);

        const explained = await explain(f.t.app, key, body);
        expect(explained.status).toBe(200);
        expect(explained.headers['cache-control']).toBe('no-store');
        expect(f.t.store.writes).toEqual([]);
        const explanation = explained.body as ExchangeExplanation;
        const failing = explanation.steps.filter((step) => step.result === 'fail');
        expect(failing.map((step) => step.step)).toEqual([c.step]);
        const failingAt = STEPS.indexOf(c.step);
        expect(explanation.steps.map((step) => step.step)).toEqual(STEPS);
        expect(explanation.steps.map((step) => step.result)).toEqual(
          STEPS.map((_, i) => (i < failingAt ? 'pass' : i === failingAt ? 'fail' : 'skipped')),
        );
        // A fix written for this step and error, not the fallback for the unexpected.
        expect(failing[0]?.fix).toBe(exchangeErrorFix(c.step, c.error));
        expect(failing[0]?.fix).not.toMatch(/unexpected error/);
        expect(explanation.would_succeed).toBe(false);
        expect(explanation.error).toEqual(failing[0]?.error);

        const exchanged = await exchange(f.t.app, key, body);
        expectFailsWith(exchanged, c.status, c.error);
        expect(explanation.error).toEqual({ ...exchanged.body, status: exchanged.status });
      } finally {
        idp.behaviour = 'ok';
      }
    },
  );

  it('passes every step of a valid token, writes nothing, and tells whether the user would be created, found or linked', async () => {
    const f = await fixture();
    const body = await signed()(f);

    const first = (await explain(f.t.app, f.keys.acme, body)).body as ExchangeExplanation;
    expect(first.would_succeed).toBe(true);
    expect(first.error).toBeNull();
    expect(first.steps.map(({ step, result }) => [step, result])).toEqual(
      STEPS.map((step) => [step, 'pass']),
    );
    expect(first.steps.at(-1)?.seen).toMatchObject({ outcome: 'created', provisioning: 'create' });
    expect(f.t.store.writes).toEqual([]);
    expect(await f.t.store.countUsers()).toBe(0);

    const exchanged = await exchange(f.t.app, f.keys.acme, body);
    expect(exchanged.status).toBe(200);
    f.t.store.resetWrites();
    const userId = userIdOf(exchanged.body.access_token) as string;

    const again = (await explain(f.t.app, f.keys.acme, body)).body as ExchangeExplanation;
    expect(again.steps.at(-1)?.seen).toMatchObject({ outcome: 'existing', user_id: userId });

    const newIdentity = await signed({ sub: 'user-456' })(f);
    const linking = (await explain(f.t.app, f.keys.acme, newIdentity)).body as ExchangeExplanation;
    expect(linking.would_succeed).toBe(true);
    expect(linking.steps.at(-1)?.seen).toMatchObject({ outcome: 'linked', email_linking: 'verified' });
    expect(f.t.store.writes).toEqual([]);
    const linked = await exchange(f.t.app, f.keys.acme, newIdentity);
    expect(userIdOf(linked.body.access_token)).toBe(userId);
  });

  it('reports what it saw (claims, header, times, settings) and never the token or the API key', async () => {
    const f = await fixture();
    const token = await clientIdp.sign(
      idTokenClaims(clientIdp.issuer, { aud: ['partner-app', 'x'], azp: 'partner-app' }),
    );
    const response = await explain(f.t.app, f.keys.clients, { token });
    const explanation = response.body as ExchangeExplanation;
    const seen = Object.fromEntries(explanation.steps.map(({ step, seen }) => [step, seen]));
    expect(seen.token_shape).toEqual({ alg: 'RS256', kid: clientIdp.kid, typ: 'JWT' });
    expect(seen.issuer).toMatchObject({ iss: clientIdp.issuer, aud: ['partner-app', 'x'] });
    expect(seen.discovery).toMatchObject({
      document_issuer: clientIdp.issuer,
      jwks_uri: `${clientIdp.issuer}/jwks`,
    });
    expect(seen.signature).toMatchObject({ alg: 'RS256', kid: clientIdp.kid });
    expect(seen.times).toMatchObject({ clock_tolerance_seconds: 30 });
    expect((seen.times?.seconds_until_exp as number) > 500).toBe(true);
    expect(seen.audience).toEqual({
      aud: ['partner-app', 'x'],
      azp: 'partner-app',
      client_ids: ['partner-app', 'partner-android'],
    });
    expect(explanation.error).toMatchObject({ error: 'invalid_audience', status: 401 });
    const text = JSON.stringify(response.body);
    for (const secret of [token, token.split('.')[2] as string, f.keys.clients, f.keys.clients.slice(-43)]) {
      expect(text).not.toContain(secret);
    }
  });

  it('answers a missing or invalid API key exactly as the exchange does', async () => {
    const f = await fixture();
    const body = await signed()(f);
    for (const key of [undefined, 'not-a-key', `${f.keys.acme.slice(0, -43)}${'B'.repeat(43)}`]) {
      const [explained, exchanged] = [await explain(f.t.app, key, body), await exchange(f.t.app, key, body)];
      expectFailsWith(explained, 401, key === undefined ? 'missing_api_key' : 'invalid_api_key');
      expect(explained.body).toEqual(exchanged.body);
      expect(explained.headers['www-authenticate']).toBe(exchanged.headers['www-authenticate']);
    }
    expect(f.t.store.writes).toEqual([]);
  });

  it('never uses up a single-use ID token: the exchange still accepts it after explaining', async () => {
    const f = await fixture({ singleUseIdTokens: true });
    const body = await signed({ jti: 'once' })(f);
    for (let i = 0; i < 2; i++) {
      const explanation = (await explain(f.t.app, f.keys.acme, body)).body as ExchangeExplanation;
      expect(explanation.would_succeed).toBe(true);
      expect(explanation.steps.find(({ step }) => step === 'single_use')).toMatchObject({
        result: 'skipped',
      });
    }
    expect(f.t.store.writes).toEqual([]);
    expect((await exchange(f.t.app, f.keys.acme, body)).status).toBe(200);
    expectFailsWith(await exchange(f.t.app, f.keys.acme, body), 400, 'invalid_token', /already exchanged/);
  });

  it("counts against the exchange's per-organization and per-address limits", async () => {
    const perOrg = await fixture({
      rateLimit: { perIp: false, perOrganization: { limit: 2, windowSeconds: 60 } },
    });
    const body = await signed()(perOrg);
    expect((await explain(perOrg.t.app, perOrg.keys.acme, body)).status).toBe(200);
    expect((await explain(perOrg.t.app, perOrg.keys.acme, body)).status).toBe(200);
    expectFailsWith(await exchange(perOrg.t.app, perOrg.keys.acme, body), 429, 'rate_limited');
    expectFailsWith(await explain(perOrg.t.app, perOrg.keys.acme, body), 429, 'rate_limited');

    const perIp = await fixture({
      rateLimit: { perIp: { limit: 1, windowSeconds: 60 }, perOrganization: false },
    });
    expect((await explain(perIp.t.app, perIp.keys.acme, body)).status).toBe(200);
    expectFailsWith(await exchange(perIp.t.app, perIp.keys.acme, body), 429, 'rate_limited');
  });
});

function userIdOf(accessToken: string): unknown {
  const [, payload] = accessToken.split('.');
  return (JSON.parse(Buffer.from(payload as string, 'base64url').toString()) as { user_id: unknown }).user_id;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
