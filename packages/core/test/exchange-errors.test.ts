import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { type Logger, StoreUnavailableError } from '@rialto-exchange/core';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  type RecordingStore,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

describe('exchange error rows', () => {
  let idp: LocalIssuer;
  let otherIdp: LocalIssuer;
  let t: TestApp;
  let apiKey: string;
  let otherApiKey: string;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    otherIdp = await startLocalIssuer();
  });
  afterAll(async () => {
    await idp.close();
    await otherIdp.close();
  });

  beforeEach(async () => {
    idp.behaviour = 'ok';
    idp.counts = { discovery: 0, jwks: 0, other: 0 };
    t = createTestApp({ fetchTimeoutMs: 300 });
    ({ apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer }));
    ({ apiKey: otherApiKey } = await registerOrganization(t.app, { name: 'Other', issuer: otherIdp.issuer }));
    t.store.resetWrites();
  });

  async function expectRejected(
    body: unknown,
    status: number,
    code: Parameters<typeof expectFailsWith>[2],
    description?: RegExp,
    key = apiKey,
  ) {
    const response = await exchange(t.app, key, body);
    expectFailsWith(response, status, code, description);
    expect(t.store.writes).toEqual([]);
    return response;
  }

  it('answers missing_api_key 401 without an X-API-Key header', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer));
    const response = await exchange(t.app, undefined, { token });
    expectFailsWith(response, 401, 'missing_api_key');
    expect(response.headers['www-authenticate']).toMatch(
      /^APIKey realm="rialto", header="X-API-Key", error="missing_api_key"/,
    );
    expect(t.store.writes).toEqual([]);
  });

  it.each([
    ['malformed', 'not-a-key'],
    ['well-formed but unknown', `rialto_ak_00000000-0000-4000-8000-000000000000_${'A'.repeat(43)}`],
    ['wrapped in quotes', 'QUOTED'],
    ['of a known org with a wrong secret part', 'WRONG_SECRET'],
  ])('answers invalid_api_key 401 for a %s key', async (_, keyTemplate) => {
    const key =
      keyTemplate === 'QUOTED'
        ? `"${apiKey}"`
        : keyTemplate === 'WRONG_SECRET'
          ? `${apiKey.slice(0, -43)}${'B'.repeat(43)}`
          : keyTemplate;
    const token = await idp.sign(idTokenClaims(idp.issuer));
    await expectRejected({ token }, 401, 'invalid_api_key', undefined, key);
  });

  it('answers invalid_api_key 401 for a revoked key', async () => {
    const orgId = apiKey.slice('rialto_ak_'.length, 'rialto_ak_'.length + 36);
    const [key] = await t.store.listActiveApiKeys(orgId);
    await t.store.revokeApiKey(orgId, key?.keyId as string, Math.floor(Date.now() / 1000));
    t.store.resetWrites();
    await expectRejected({ token: await idp.sign(idTokenClaims(idp.issuer)) }, 401, 'invalid_api_key');
  });

  it('checks the API key before anything in the body', async () => {
    await expectRejected('not json', 401, 'invalid_api_key', undefined, 'nope');
  });

  it.each([
    ['a body that is not JSON', '{"token": ', /valid JSON/],
    ['a body without token', {}, /"token" string/],
    ['a token that is not a string', { token: 42 }, /"token" string/],
    ['a JSON array body', [1, 2], /"token" string/],
    ['a token with two parts', { token: 'aaa.bbb' }, /three dot-separated/],
    ['a token with four parts', { token: 'aaa.bbb.ccc.ddd' }, /three dot-separated/],
    ['a token with non-base64url characters', { token: 'ab$.c!d.efg' }, /three dot-separated/],
    ['a token whose header is not JSON', { token: 'bm90anNvbg.e30.c2ln' }, /JSON header/],
    [
      'a token whose payload is a JSON array',
      { token: 'eyJhbGciOiJSUzI1NiJ9.WzEsMl0.c2ln' },
      /JSON object payload/,
    ],
    ['an oversize token', { token: `eyJhbGciOiJSUzI1NiJ9.${'a'.repeat(20_000)}.c2ln` }, /must not be longer/],
  ])('answers invalid_token 400 for %s', async (_, body, description) => {
    await expectRejected(body, 400, 'invalid_token', description);
  });

  it('answers invalid_issuer 401 when iss is absent', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer, { iss: undefined }));
    await expectRejected({ token }, 401, 'invalid_issuer', /iss claim/);
    expect(idp.counts.discovery).toBe(0);
  });

  it('answers issuer_not_registered 403 and fetches nothing from the unknown issuer', async () => {
    const stranger = await startLocalIssuer();
    try {
      const token = await stranger.sign(idTokenClaims(stranger.issuer));
      await expectRejected({ token }, 403, 'issuer_not_registered');
      expect(stranger.counts).toEqual({ discovery: 0, jwks: 0, other: 0 });
    } finally {
      await stranger.close();
    }
  });

  it('answers org_mismatch 403 when the key belongs to another org than the issuer', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer));
    await expectRejected({ token }, 403, 'org_mismatch', undefined, otherApiKey);
  });

  it.each([
    ['answers 503', 'down'],
    ['answers 404', 'not-found'],
    ['answers HTML', 'html'],
    ['times out', 'hang'],
    ['sends a document over the size limit', 'oversize'],
  ] as const)('answers discovery_failed 502 when the IdP %s', async (_, behaviour) => {
    idp.behaviour = behaviour;
    const token = await idp.sign(idTokenClaims(idp.issuer));
    await expectRejected({ token }, 502, 'discovery_failed');
  });

  it('answers discovery_failed 502 when nothing listens at the issuer', async () => {
    const port = await closedPort();
    const issuer = `http://127.0.0.1:${port}`;
    const { apiKey: key } = await registerOrganization(t.app, { name: 'Gone', issuer });
    t.store.resetWrites();
    const token = await idp.sign(idTokenClaims(issuer));
    await expectRejected({ token }, 502, 'discovery_failed', undefined, key);
  });

  it('answers invalid_issuer 401 when the discovery document names another issuer', async () => {
    idp.behaviour = 'wrong-issuer';
    await expectRejected(
      { token: await idp.sign(idTokenClaims(idp.issuer)) },
      401,
      'invalid_issuer',
      /OpenID configuration/,
    );
  });

  it('answers invalid_signature 401 for a token signed by another key under the same kid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await idp.sign(idTokenClaims(idp.issuer), { key: privateKey });
    await expectRejected({ token }, 401, 'invalid_signature');
  });

  it('answers invalid_signature 401 for a tampered payload', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer));
    const [header, , signature] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify(idTokenClaims(idp.issuer, { email: 'ceo@example.com' })),
    ).toString('base64url');
    await expectRejected({ token: `${header}.${forged}.${signature}` }, 401, 'invalid_signature');
  });

  it('answers invalid_signature 401 for alg none', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(idTokenClaims(idp.issuer))).toString('base64url');
    await expectRejected({ token: `${header}.${payload}.` }, 401, 'invalid_signature');
  });

  it("answers invalid_signature 401 for HS256 signed with the IdP's public key as the secret", async () => {
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: unknown[] };
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    const token = await idp.sign(idTokenClaims(idp.issuer), { alg: 'HS256', key: secret });
    await expectRejected({ token }, 401, 'invalid_signature');
  });

  it('answers invalid_signature 401 for an unknown kid, refetching a key set older than the cooldown once', async () => {
    const eager = createTestApp({ unknownKidCooldownSeconds: 0 });
    const { apiKey: key } = await registerOrganization(eager.app, { name: 'Acme', issuer: idp.issuer });
    const token = await idp.sign(idTokenClaims(idp.issuer), { kid: 'unknown-kid' });
    const response = await exchange(eager.app, key, { token });
    expectFailsWith(response, 401, 'invalid_signature');
    expect(idp.counts.jwks).toBe(2);
  });

  it('fetches the key set once for a flood of unknown kids within the cooldown', async () => {
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => idp.sign(idTokenClaims(idp.issuer), { kid: `forged-${i}` })),
    );
    const responses = await Promise.all(tokens.map((token) => exchange(t.app, apiKey, { token })));
    for (const response of responses) expectFailsWith(response, 401, 'invalid_signature');
    expect(idp.counts).toEqual({ discovery: 1, jwks: 1, other: 0 });
    expect(t.store.writes).toEqual([]);
  });

  it('picks up a key the IdP rotated in after the key set was cached', async () => {
    const eager = createTestApp({ unknownKidCooldownSeconds: 0 });
    const { apiKey: key } = await registerOrganization(eager.app, { name: 'Acme', issuer: idp.issuer });
    expect(
      (await exchange(eager.app, key, { token: await idp.sign(idTokenClaims(idp.issuer)) })).status,
    ).toBe(200);
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    idp.extraPublicKeys = [{ ...(await exportJWK(publicKey)), kid: 'rotated', alg: 'ES256' }];
    try {
      const token = await idp.sign(idTokenClaims(idp.issuer), {
        alg: 'ES256',
        kid: 'rotated',
        key: privateKey,
      });
      expect((await exchange(eager.app, key, { token })).status).toBe(200);
    } finally {
      idp.extraPublicKeys = [];
    }
  });

  it('answers invalid_signature 401 for an algorithm the org does not allow', async () => {
    const strictIdp = await startLocalIssuer();
    try {
      const { apiKey: key } = await registerOrganization(t.app, {
        name: 'Strict',
        issuer: strictIdp.issuer,
        allowed_algorithms: ['ES256'],
      });
      t.store.resetWrites();
      await expectRejected(
        { token: await strictIdp.sign(idTokenClaims(strictIdp.issuer)) },
        401,
        'invalid_signature',
        undefined,
        key,
      );
    } finally {
      await strictIdp.close();
    }
  });

  it('answers token_expired 401 for a token past exp and the clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign(idTokenClaims(idp.issuer, { iat: now - 700, exp: now - 60 }));
    await expectRejected({ token }, 401, 'token_expired');
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign(idTokenClaims(idp.issuer, { iat: now - 700, exp: now - 10 }));
    expect((await exchange(t.app, apiKey, { token })).status).toBe(200);
  });

  it.each([
    ['nbf is in the future', { nbf: Math.floor(Date.now() / 1000) + 600 }, /"nbf" claim is not satisfied/],
    ['iat is in the future', { iat: Math.floor(Date.now() / 1000) + 600 }, /issued in the future/],
    ['exp is a string', { exp: String(Math.floor(Date.now() / 1000) + 600) }, /"exp" claim is malformed/],
  ])('answers invalid_token 400 when %s', async (_, overrides, description) => {
    const token = await idp.sign(idTokenClaims(idp.issuer, overrides));
    await expectRejected({ token }, 400, 'invalid_token', description);
  });

  it('answers invalid_audience 401 when the org lists client_ids and aud names none of them', async () => {
    const clientIdp = await startLocalIssuer();
    try {
      const { apiKey: key } = await registerOrganization(t.app, {
        name: 'Clients',
        issuer: clientIdp.issuer,
        client_ids: ['web-app'],
      });
      t.store.resetWrites();
      const foreign = await clientIdp.sign(idTokenClaims(clientIdp.issuer, { aud: 'another-app' }));
      await expectRejected(
        { token: foreign },
        401,
        'invalid_audience',
        /^The token was not issued to a client registered for this organization\.$/,
        key,
      );
    } finally {
      await clientIdp.close();
    }
  });

  it('answers invalid_token 400 when sub is missing', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer, { sub: undefined }));
    await expectRejected({ token }, 400, 'invalid_token', /must contain a sub claim/);
  });

  it('answers invalid_token 400 when email, preferred_username and upn all lack an email', async () => {
    const token = await idp.sign(
      idTokenClaims(idp.issuer, { email: undefined, preferred_username: 'ada', upn: 'not an email' }),
    );
    const response = await expectRejected(
      { token },
      400,
      'invalid_token',
      /email in email, preferred_username or upn\.$/,
    );
    expect(response.body.error_description).not.toMatch(/Cognito/);
  });

  it.each([
    ['preferred_username', { email: undefined, preferred_username: 'ada@example.com' }],
    ['upn', { email: undefined, upn: 'ada@example.com' }],
  ])('takes the email from %s when email is absent', async (_, overrides) => {
    const token = await idp.sign(idTokenClaims(idp.issuer, overrides));
    expect((await exchange(t.app, apiKey, { token })).status).toBe(200);
  });

  it('hints at the ID token when given a Cognito access token', async () => {
    const token = await idp.sign(
      idTokenClaims(idp.issuer, {
        email: undefined,
        email_verified: undefined,
        token_use: 'access',
        client_id: 'x',
      }),
    );
    await expectRejected({ token }, 400, 'invalid_token', /Cognito access token.*send the ID token/);
  });

  it('answers method_not_allowed 405 with Allow for GET on the exchange path', async () => {
    const response = await request(t.app).get('/identity/auth/exchange');
    expectFailsWith(response, 405, 'method_not_allowed');
    expect(response.headers.allow).toBe('POST');
  });
});

describe('exchange when the store fails', () => {
  let idp: LocalIssuer;
  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());

  const logged: string[] = [];
  const logger = Object.fromEntries(
    (['debug', 'info', 'warn', 'error'] as const).map((level) => [
      level,
      (object: object, message?: string) =>
        logged.push(`${level} ${message} ${inspect(object, { depth: 10 })}`),
    ]),
  ) as unknown as Logger;

  async function appWithFailingUsers(
    failure: Error,
  ): Promise<{ t: TestApp; apiKey: string; store: RecordingStore }> {
    const store = recordingStore();
    const t = createTestApp({ store, logger });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    store.findOrCreateUser = async () => {
      throw failure;
    };
    return { t, apiKey, store };
  }

  it('answers temporarily_unavailable 503 with Retry-After and creates no user', async () => {
    const { t, apiKey, store } = await appWithFailingUsers(new StoreUnavailableError('connection refused'));
    const response = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expectFailsWith(response, 503, 'temporarily_unavailable');
    expect(response.headers['retry-after']).toBe('1');
    expect(await store.countUsers()).toBe(0);
  });

  it('answers server_error 500 without internals for an unexpected failure', async () => {
    const { t, apiKey } = await appWithFailingUsers(new Error('SELECT secret FROM internals failed at db-7'));
    const response = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expectFailsWith(response, 500, 'server_error', /^An unexpected error occurred\.$/);
    expect(JSON.stringify(response.body)).not.toMatch(/internals|db-7/);
  });

  it('logs the cause of a server error for operators, without the token or the API key', async () => {
    logged.length = 0;
    const { t, apiKey } = await appWithFailingUsers(new Error('disk on fire'));
    const token = await idp.sign(idTokenClaims(idp.issuer));
    await exchange(t.app, apiKey, { token });
    const errors = logged.filter((line) => line.startsWith('error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^error rialto-exchange request failed .*disk on fire/s);
    for (const secret of [token, token.split('.')[2] as string, apiKey, apiKey.slice(-43)]) {
      expect(logged.join('\n')).not.toContain(secret);
    }
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
