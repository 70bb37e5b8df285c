import { randomUUID } from 'node:crypto';
import type { RialtoErrorCode } from '@rialto-exchange/core';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { disposableStore } from '../../storage-adapters/test/disposable-stores.js';
import { REDIS_URL } from '../../storage-adapters/test/services.js';
import { startTcpProxy } from '../../storage-adapters/test/tcp-proxy.js';
import { EXCHANGE_ERROR_MAPPING } from '../src/oauth/error-mapping.js';
import { oauthStatusOf } from '../src/oauth/oauth-error.js';
import { request, type TestResponse } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  SERVICE_ISSUER,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

function form(parameters: Record<string, string | string[]>): string {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
  }
  return body.toString();
}

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** An OAuth error answer: status, `error`, `rialto_error`, no caching, nothing else in the body. */
function expectOAuthError(
  response: TestResponse,
  status: number,
  error: string,
  rialtoError: RialtoErrorCode | undefined,
): void {
  expect({
    status: response.status,
    error: response.body.error,
    rialto_error: response.body.rialto_error,
  }).toEqual({ status, error, rialto_error: rialtoError });
  expect(response.headers['cache-control']).toBe('no-store');
  expect(typeof response.body.error_description).toBe('string');
  expect(Object.keys(response.body).sort()).toEqual(
    rialtoError === undefined
      ? ['error', 'error_description']
      : ['error', 'error_description', 'rialto_error'],
  );
}

describe('POST /oauth/token', () => {
  let idp: LocalIssuer;
  let otherIdp: LocalIssuer;
  let thirdIdp: LocalIssuer;
  let t: TestApp;
  let orgId: string;
  let apiKey: string;
  let otherOrgId: string;
  let otherApiKey: string;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    otherIdp = await startLocalIssuer();
    thirdIdp = await startLocalIssuer();
  });
  afterAll(async () => {
    await idp.close();
    await otherIdp.close();
    await thirdIdp.close();
  });

  beforeEach(async () => {
    idp.behaviour = 'ok';
    t = createTestApp({
      fetchTimeoutMs: 300,
      resourceAudiences: { 'https://issuance.example.com/': 'primary-issuance' },
    });
    ({ orgId, apiKey } = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: idp.issuer,
      audience: ['primary-issuance', 'reporting'],
      client_ids: ['partner-app'],
    }));
    ({ orgId: otherOrgId, apiKey: otherApiKey } = await registerOrganization(t.app, {
      name: 'Other',
      issuer: otherIdp.issuer,
    }));
  });

  const idToken = (overrides: Record<string, unknown> = {}) => idp.sign(idTokenClaims(idp.issuer, overrides));

  function token(parameters: Record<string, string | string[]>, headers: Record<string, string> = {}) {
    return request(t.app).post('/oauth/token').set(headers).send(form(parameters));
  }

  async function tokenExchange(
    extra: Record<string, string | string[]> = {},
    headers?: Record<string, string>,
  ) {
    return token(
      {
        grant_type: TOKEN_EXCHANGE,
        subject_token: await idToken(),
        subject_token_type: ID_TOKEN_TYPE,
        ...extra,
      },
      headers ?? { authorization: basic(orgId, apiKey) },
    );
  }

  describe('grants', () => {
    it('exchanges a subject token for tokens shaped per RFC 8693 §2.2.1, with client_secret_basic', async () => {
      const response = await tokenExchange();
      expect(response.status).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(Object.keys(response.body).sort()).toEqual([
        'access_token',
        'expires_in',
        'issued_token_type',
        'refresh_expires_in',
        'refresh_token',
        'scope',
        'token_type',
      ]);
      expect(response.body).toMatchObject({
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: 300,
        scope: 'openid email profile aud:identity aud:primary-issuance aud:reporting',
      });
      const claims = decodeJwt(response.body.access_token);
      expect(claims).toMatchObject({ org_id: orgId, client_id: orgId });
      expect(claims.cnf).toBeUndefined();
    });

    it('takes client_secret_post and X-API-Key, and jwt-bearer without issued_token_type', async () => {
      const posted = await token({
        grant_type: JWT_BEARER,
        assertion: await idToken(),
        client_id: orgId,
        client_secret: apiKey,
      });
      expect(posted.status).toBe(200);
      expect(posted.body.issued_token_type).toBeUndefined();
      expect(posted.body.token_type).toBe('Bearer');

      const header = await token(
        { grant_type: JWT_BEARER, assertion: await idToken() },
        { 'x-api-key': apiKey },
      );
      expect(header.status).toBe(200);
    });

    it('narrows by audience, resource and scope, keeps identity, and the refresh keeps the narrowed set', async () => {
      const byAudience = await tokenExchange({ audience: 'primary-issuance' });
      expect(byAudience.body.scope).toBe('openid email profile aud:identity aud:primary-issuance');
      expect(decodeJwt(byAudience.body.access_token).aud).toEqual(['identity', 'primary-issuance']);

      const byResource = await tokenExchange({ resource: 'https://issuance.example.com/' });
      expect(byResource.body.scope).toBe('openid email profile aud:identity aud:primary-issuance');

      const byScope = await tokenExchange({ scope: 'aud:reporting' });
      expect(byScope.body.scope).toBe('openid email profile aud:identity aud:reporting');

      const refreshed = await token(
        { grant_type: 'refresh_token', refresh_token: byAudience.body.refresh_token },
        { authorization: basic(orgId, apiKey) },
      );
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.scope).toBe('openid email profile aud:identity aud:primary-issuance');
      expect(decodeJwt(refreshed.body.access_token).aud).toEqual(['identity', 'primary-issuance']);

      // Asking for more than the family has at refresh is refused; asking for less narrows the access token only.
      const wider = await token(
        { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, audience: 'reporting' },
        { authorization: basic(orgId, apiKey) },
      );
      expectOAuthError(wider, 400, 'invalid_target', undefined);
      const narrower = await token(
        { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, scope: 'openid' },
        { authorization: basic(orgId, apiKey) },
      );
      expect(narrower.status).toBe(200);
      expect(narrower.body.scope).toBe('openid email profile aud:identity');
      const again = await token(
        { grant_type: 'refresh_token', refresh_token: narrower.body.refresh_token },
        { authorization: basic(orgId, apiKey) },
      );
      expect(again.body.scope).toBe('openid email profile aud:identity aud:primary-issuance');
    });

    it('rotates refresh tokens with reuse detection, as the seed route does', async () => {
      const first = await tokenExchange();
      const auth = { authorization: basic(orgId, apiKey) };
      const second = await token(
        { grant_type: 'refresh_token', refresh_token: first.body.refresh_token },
        auth,
      );
      expect(second.status).toBe(200);
      expect(second.body.issued_token_type).toBeUndefined();
      // Past the grace window: the retry of a used token is reuse, which ends the family.
      const reuseApp = createTestApp({ refreshTokenRetryGraceSeconds: 0 });
      const { orgId: id, apiKey: key } = await registerOrganization(reuseApp.app, {
        name: 'Reuse',
        issuer: idp.issuer,
      });
      const reuseAuth = { authorization: basic(id, key) };
      const issued = await request(reuseApp.app)
        .post('/oauth/token')
        .set(reuseAuth)
        .send(form({ grant_type: JWT_BEARER, assertion: await idToken() }));
      const rotated = await request(reuseApp.app)
        .post('/oauth/token')
        .set(reuseAuth)
        .send(form({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token }));
      expect(rotated.status).toBe(200);
      const reused = await request(reuseApp.app)
        .post('/oauth/token')
        .set(reuseAuth)
        .send(form({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token }));
      expectOAuthError(reused, 400, 'invalid_grant', 'invalid_grant');
      const successor = await request(reuseApp.app)
        .post('/oauth/token')
        .set(reuseAuth)
        .send(form({ grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token }));
      expectOAuthError(successor, 400, 'invalid_grant', 'invalid_grant');
    });

    it("refuses another organization's refresh token before using it, so its owner keeps it", async () => {
      const issued = await tokenExchange();
      const stolen = await token(
        { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token },
        { authorization: basic(otherOrgId, otherApiKey) },
      );
      expectOAuthError(stolen, 400, 'invalid_grant', 'invalid_grant');
      const owner = await token(
        { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token },
        { authorization: basic(orgId, apiKey) },
      );
      expect(owner.status).toBe(200);
    });

    it('refuses its refresh tokens at the seed route, which has no client authentication', async () => {
      const issued = await tokenExchange();
      const seed = await request(t.app)
        .post('/identity/auth/refresh')
        .send({ refresh_token: issued.body.refresh_token });
      expect(seed.status).toBe(400);
      expect(seed.body.error).toBe('invalid_grant');
      expect(seed.body.error_description).toMatch(/token endpoint/);
      // Refused before use: the token still works at the token endpoint.
      const owner = await token(
        { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token },
        { authorization: basic(orgId, apiKey) },
      );
      expect(owner.status).toBe(200);
    });

    it("refuses a refresh token once its organization's keys are all revoked", async () => {
      const issued = await tokenExchange();
      const [key] = await t.store.listActiveApiKeys(orgId);
      const revoked = await request(t.app)
        .delete(`/identity/organizations/${orgId}/api-keys/${key?.keyId}`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(revoked.status).toBeLessThan(300);
      const response = await token(
        { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token },
        { authorization: basic(orgId, apiKey) },
      );
      expectOAuthError(response, 401, 'invalid_client', 'invalid_api_key');
      expect(response.headers['www-authenticate']).toMatch(/^Basic realm="rialto"/);
    });

    it('leaves seed-route refresh tokens to the seed route', async () => {
      const seed = await exchange(t.app, apiKey, { token: await idToken() });
      const response = await token(
        { grant_type: 'refresh_token', refresh_token: seed.body.refresh_token },
        { authorization: basic(orgId, apiKey) },
      );
      expectOAuthError(response, 400, 'invalid_grant', 'invalid_grant');
      expect(
        (await request(t.app).post('/identity/auth/refresh').send({ refresh_token: seed.body.refresh_token }))
          .status,
      ).toBe(200);
    });
  });

  describe('malformed requests', () => {
    it('answers invalid_request 400 for two client authentication methods', async () => {
      const response = await tokenExchange(
        { client_id: orgId, client_secret: apiKey },
        { authorization: basic(orgId, apiKey) },
      );
      expectOAuthError(response, 400, 'invalid_request', 'invalid_request');
      expect(response.body.error_description).toMatch(/more than one way/);
    });

    it.each([
      ['an unsupported subject_token_type', { subject_token_type: ACCESS_TOKEN_TYPE }, /subject_token_type/],
      [
        'an unsupported requested_token_type',
        { requested_token_type: ID_TOKEN_TYPE },
        /requested_token_type/,
      ],
      ['an actor_token', { actor_token: 'a.b.c', actor_token_type: ID_TOKEN_TYPE }, /Delegation/],
      ['a repeated parameter other than audience and resource', { scope: ['openid', 'email'] }, /repeated/],
    ])('answers invalid_request 400 for %s', async (_, extra, description) => {
      const response = await tokenExchange(extra);
      expectOAuthError(response, 400, 'invalid_request', 'invalid_request');
      expect(response.body.error_description).toMatch(description);
    });

    it('answers unsupported_grant_type 400 for a grant it does not offer', async () => {
      const response = await token(
        { grant_type: 'client_credentials' },
        { authorization: basic(orgId, apiKey) },
      );
      expectOAuthError(response, 400, 'unsupported_grant_type', undefined);
    });

    it('answers invalid_target 400 and invalid_scope 400 outside the organization audiences', async () => {
      t.store.resetWrites();
      expectOAuthError(await tokenExchange({ audience: 'billing' }), 400, 'invalid_target', undefined);
      expectOAuthError(
        await tokenExchange({ resource: 'https://unknown.example.com/' }),
        400,
        'invalid_target',
        undefined,
      );
      expectOAuthError(await tokenExchange({ scope: 'aud:billing' }), 400, 'invalid_scope', undefined);
      expect(t.store.writes).toEqual([]);
    });

    it('answers 401 invalid_client with a Basic challenge only when Basic was used', async () => {
      const wrongBasic = await tokenExchange(
        {},
        { authorization: basic(orgId, `${apiKey.slice(0, -4)}AAAA`) },
      );
      expectOAuthError(wrongBasic, 401, 'invalid_client', 'invalid_api_key');
      expect(wrongBasic.headers['www-authenticate']).toMatch(/^Basic realm="rialto", error="invalid_client"/);

      const otherClient = await tokenExchange({}, { authorization: basic(otherOrgId, apiKey) });
      expectOAuthError(otherClient, 401, 'invalid_client', 'invalid_api_key');

      const posted = await tokenExchange({ client_id: orgId, client_secret: 'rialto_ak_nope' }, {});
      expectOAuthError(posted, 401, 'invalid_client', 'invalid_api_key');
      expect(posted.headers['www-authenticate']).toBeUndefined();
    });
  });

  describe('metrics and audit events', () => {
    it('name the grant type with a fixed set of values', async () => {
      const observed = createTestApp({ metrics: { registry: new Registry() } });
      const registered = await registerOrganization(observed.app, { name: 'Observed', issuer: idp.issuer });
      const events: Array<{ grantType?: string; code?: string }> = [];
      observed.router.exchange.audit.on(
        'exchange.succeeded',
        ({ grantType }) => void events.push({ grantType }),
      );
      observed.router.exchange.audit.on(
        'exchange.failed',
        ({ grantType, code }) => void events.push({ grantType, code }),
      );
      const auth = { authorization: basic(registered.orgId, registered.apiKey) };
      const send = (parameters: Record<string, string>) =>
        request(observed.app).post('/oauth/token').set(auth).send(form(parameters));

      const issued = await send({ grant_type: JWT_BEARER, assertion: await idToken() });
      await send({ grant_type: TOKEN_EXCHANGE, subject_token: 'a.b', subject_token_type: ID_TOKEN_TYPE });
      await send({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token });
      await send({ grant_type: 'made-up-grant' });

      const text = await observed.router.exchange.metrics?.scrape();
      for (const series of [
        'rialto_oauth_token_requests_total{grant_type="jwt_bearer",result="success"} 1',
        'rialto_oauth_token_requests_total{grant_type="token_exchange",result="invalid_grant"} 1',
        'rialto_oauth_token_requests_total{grant_type="refresh_token",result="success"} 1',
        'rialto_oauth_token_requests_total{grant_type="unsupported",result="unsupported_grant_type"} 1',
      ]) {
        expect(text).toContain(series);
      }
      expect(events).toEqual([
        { grantType: 'jwt_bearer' },
        { grantType: 'token_exchange', code: 'invalid_token' },
      ]);
    });
  });

  it("counts every grant against the organization's limit, refreshes included", async () => {
    const limited = createTestApp({
      rateLimit: { perIp: false, perOrganization: { limit: 2, windowSeconds: 60 } },
    });
    const registered = await registerOrganization(limited.app, { name: 'Limited', issuer: idp.issuer });
    const send = (parameters: Record<string, string>) =>
      request(limited.app)
        .post('/oauth/token')
        .set('authorization', basic(registered.orgId, registered.apiKey))
        .send(form(parameters));
    const issued = await send({ grant_type: JWT_BEARER, assertion: await idToken() });
    expect(issued.status).toBe(200);
    expect(
      (await send({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token })).status,
    ).toBe(200);
    const refused = await send({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token });
    expectOAuthError(refused, 429, 'temporarily_unavailable', 'rate_limited');
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
  });

  describe('the token debugger', () => {
    it('explains a token-endpoint body with the same steps as the exchange body, writing nothing', async () => {
      const idTokenValue = await idToken({ sub: 'explained' });
      t.store.resetWrites();
      const seed = await request(t.app)
        .post('/identity/auth/exchange/explain')
        .set('x-api-key', apiKey)
        .send({ token: idTokenValue });
      const oauth = await request(t.app)
        .post('/identity/auth/exchange/explain')
        .set('authorization', basic(orgId, apiKey))
        .send(form({ grant_type: JWT_BEARER, assertion: idTokenValue, audience: 'identity' }));
      expect(oauth.status).toBe(200);
      expect(oauth.body.would_succeed).toBe(true);
      expect(oauth.body.steps.map((step: { step: string }) => step.step)).toEqual(
        seed.body.steps.map((step: { step: string }) => step.step),
      );
      expect(t.store.writes).toEqual([]);

      const refresh = await request(t.app)
        .post('/identity/auth/exchange/explain')
        .set('authorization', basic(orgId, apiKey))
        .send(form({ grant_type: 'refresh_token', refresh_token: 'a.b.c' }));
      expect({ status: refresh.status, error: refresh.body.error }).toEqual({
        status: 400,
        error: 'invalid_request',
      });
    });

    type Explained = {
      would_succeed: boolean;
      error: { error: string; error_description: string; status: number } | null;
      steps: Array<{
        step: string;
        result: string;
        seen: Record<string, unknown>;
        error?: unknown;
        fix?: string;
      }>;
    };
    const grantOf = (explanation: Explained) => explanation.steps.find(({ step }) => step === 'grant');

    function explainForm(parameters: Record<string, string | string[]>, headers: Record<string, string>) {
      return request(t.app).post('/identity/auth/exchange/explain').set(headers).send(form(parameters));
    }

    /** The debugger's verdict on a token-endpoint body, next to what the token endpoint answers for it. */
    async function explainedAndAnswered(
      targets: Record<string, string | string[]>,
      headers: Record<string, string> = { authorization: basic(orgId, apiKey) },
      sign: () => Promise<string> = () => idToken(),
    ) {
      const explained = await explainForm(
        { grant_type: JWT_BEARER, assertion: await sign(), ...targets },
        headers,
      );
      expect(explained.status).toBe(200);
      const answered = await token({ grant_type: JWT_BEARER, assertion: await sign(), ...targets }, headers);
      return { explanation: explained.body as Explained, answered };
    }

    it('reports the grant step: the narrowed audience, as the token endpoint grants it', async () => {
      const { explanation, answered } = await explainedAndAnswered({ audience: 'primary-issuance' });
      expect(explanation.would_succeed).toBe(true);
      expect(grantOf(explanation)).toEqual({
        step: 'grant',
        result: 'pass',
        seen: { grant_type: 'jwt_bearer', audience: ['identity', 'primary-issuance'], dpop_required: false },
      });
      expect(answered.status).toBe(200);
      expect(decodeJwt(answered.body.access_token).aud).toEqual(['identity', 'primary-issuance']);
    });

    it.each([
      ['an audience outside the organization', { audience: 'payments' }, 'invalid_target'],
      ['a resource no option maps', { resource: 'https://elsewhere.example.com/' }, 'invalid_target'],
      ['a scope outside the organization', { scope: 'aud:payments' }, 'invalid_scope'],
    ])(
      'reports the grant step failing for %s with the token endpoint answer and a fix',
      async (_, targets, code) => {
        t.store.resetWrites();
        const { explanation, answered } = await explainedAndAnswered(targets);
        expectOAuthError(answered, 400, code, undefined);
        const expected = { error: code, error_description: answered.body.error_description, status: 400 };
        expect(explanation.would_succeed).toBe(false);
        expect(explanation.error).toEqual(expected);
        const grant = grantOf(explanation);
        expect(grant).toMatchObject({ result: 'fail', error: expected });
        expect(grant?.fix).toMatch(
          code === 'invalid_scope' ? /aud:<name>/ : /audiences the organization has/,
        );
        // Every check of the token passed before it; nothing after it ran.
        const results = explanation.steps.map(({ step, result }) => [step, result]);
        expect(results.slice(results.findIndex(([step]) => step === 'grant') + 1)).toEqual([
          ['policy', 'skipped'],
          ['linking', 'skipped'],
        ]);
        expect(t.store.writes).toEqual([]);
      },
    );

    it("reports the organization's DPoP requirement as the token endpoint and the seed exchange apply it", async () => {
      const bound = await request(t.app)
        .post('/identity/organizations')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ name: 'Explained bound', issuer: thirdIdp.issuer, dpop_bound_access_tokens: true });
      expect(bound.status).toBe(201);
      const auth = { authorization: basic(bound.body.org_id, bound.body.api_key) };
      const sign = () => thirdIdp.sign(idTokenClaims(thirdIdp.issuer));

      const { explanation, answered } = await explainedAndAnswered({}, auth, sign);
      expectOAuthError(answered, 400, 'invalid_dpop_proof', undefined);
      expect(grantOf(explanation)).toMatchObject({
        result: 'fail',
        seen: { dpop_required: true },
        error: {
          error: 'invalid_dpop_proof',
          error_description: answered.body.error_description,
          status: 400,
        },
        fix: expect.stringMatching(/Send a DPoP proof/),
      });

      // A proof is taken as sent (its htu names the token endpoint): the grant passes, bound.
      const withProof = await explainForm(
        { grant_type: JWT_BEARER, assertion: await sign() },
        { ...auth, dpop: 'a.proof.for-the-token-endpoint' },
      );
      expect(withProof.body.would_succeed).toBe(true);
      expect(grantOf(withProof.body)).toMatchObject({ result: 'pass', seen: { dpop_required: true } });

      // The exchange's JSON body: the seed exchange refuses the organization, and so does the debugger.
      const seedToken = await sign();
      const seed = await request(t.app)
        .post('/identity/auth/exchange/explain')
        .set('x-api-key', bound.body.api_key)
        .send({ token: seedToken });
      expect(seed.status).toBe(200);
      const seedAnswer = await exchange(t.app, bound.body.api_key, { token: await sign() });
      expect(seedAnswer.status).toBe(400);
      expect(seed.body.error).toEqual({ ...seedAnswer.body, status: 400 });
      expect(grantOf(seed.body)).toMatchObject({
        result: 'fail',
        seen: { grant_type: 'exchange', dpop_required: true },
        fix: expect.stringMatching(/POST \/oauth\/token with a DPoP proof/),
      });
    });
  });

  describe('DPoP (RFC 9449)', () => {
    const TOKEN_URL = `${SERVICE_ISSUER}/oauth/token`;

    async function proofKey() {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = await exportJWK(publicKey);
      return {
        jkt: await calculateJwkThumbprint(jwk),
        proof: (claims: Record<string, unknown> = {}) =>
          new SignJWT({
            jti: randomUUID(),
            htm: 'POST',
            htu: TOKEN_URL,
            iat: Math.floor(Date.now() / 1000),
            ...claims,
          })
            .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
            .sign(privateKey),
      };
    }

    it('binds the access token and the refresh family to the proof key', async () => {
      const key = await proofKey();
      const response = await tokenExchange(
        {},
        { authorization: basic(orgId, apiKey), dpop: await key.proof() },
      );
      expect(response.status).toBe(200);
      expect(response.body.token_type).toBe('DPoP');
      expect(decodeJwt(response.body.access_token).cnf).toEqual({ jkt: key.jkt });

      const withoutProof = await token(
        { grant_type: 'refresh_token', refresh_token: response.body.refresh_token },
        { authorization: basic(orgId, apiKey) },
      );
      expectOAuthError(withoutProof, 400, 'invalid_dpop_proof', undefined);
      const refreshed = await token(
        { grant_type: 'refresh_token', refresh_token: response.body.refresh_token },
        { authorization: basic(orgId, apiKey), dpop: await key.proof() },
      );
      expect(refreshed.status).toBe(200);
      expect(decodeJwt(refreshed.body.access_token).cnf).toEqual({ jkt: key.jkt });
    });

    it('refuses a replayed proof, a proof for another URL and a stale one', async () => {
      const key = await proofKey();
      const proof = await key.proof();
      expect((await tokenExchange({}, { authorization: basic(orgId, apiKey), dpop: proof })).status).toBe(
        200,
      );
      const replayed = await tokenExchange({}, { authorization: basic(orgId, apiKey), dpop: proof });
      expectOAuthError(replayed, 400, 'invalid_dpop_proof', undefined);
      expect(replayed.body.error_description).toMatch(/already used/);

      // htu is built from the issuer, never from the Host header the request came with.
      const otherHost = await tokenExchange(
        {},
        {
          authorization: basic(orgId, apiKey),
          dpop: await key.proof({ htu: 'http://127.0.0.1/oauth/token' }),
        },
      );
      expectOAuthError(otherHost, 400, 'invalid_dpop_proof', undefined);
      const stale = await tokenExchange(
        {},
        {
          authorization: basic(orgId, apiKey),
          dpop: await key.proof({ iat: Math.floor(Date.now() / 1000) - 200 }),
        },
      );
      expectOAuthError(stale, 400, 'invalid_dpop_proof', undefined);
    });

    it('an organization registered with dpop_bound_access_tokens needs a proof, and the seed exchange refuses it', async () => {
      const bound = await request(t.app)
        .post('/identity/organizations')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ name: 'Bound', issuer: thirdIdp.issuer, dpop_bound_access_tokens: true });
      expect(bound.status).toBe(201);
      expect(bound.body.dpop_bound_access_tokens).toBe(true);
      const auth = { authorization: basic(bound.body.org_id, bound.body.api_key) };
      const assertion = () => thirdIdp.sign(idTokenClaims(thirdIdp.issuer));

      t.store.resetWrites();
      const withoutProof = await token({ grant_type: JWT_BEARER, assertion: await assertion() }, auth);
      expectOAuthError(withoutProof, 400, 'invalid_dpop_proof', undefined);
      const seed = await exchange(t.app, bound.body.api_key, { token: await assertion() });
      expect({ status: seed.status, error: seed.body.error }).toEqual({
        status: 400,
        error: 'invalid_request',
      });
      expect(seed.body.error_description).toMatch(/POST \/oauth\/token/);
      expect(t.store.writes).toEqual([]);

      const key = await proofKey();
      const withProof = await token(
        { grant_type: JWT_BEARER, assertion: await assertion() },
        { ...auth, dpop: await key.proof() },
      );
      expect(withProof.body.token_type).toBe('DPoP');

      // PATCH turns it off (and on again); the seed route then serves the organization again.
      const patched = await request(t.app)
        .patch(`/identity/organizations/${bound.body.org_id}`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ dpop_bound_access_tokens: false });
      expect(patched.status).toBe(200);
      expect(patched.body.dpop_bound_access_tokens).toBe(false);
      expect((await exchange(t.app, bound.body.api_key, { token: await assertion() })).status).toBe(200);
      const empty = await request(t.app)
        .patch(`/identity/organizations/${bound.body.org_id}`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({});
      expect({ status: empty.status, error: empty.body.error }).toEqual({
        status: 400,
        error: 'invalid_request',
      });
    });

    it('refreshes no unbound session once the organization requires DPoP, at either route, and resumes them when it stops', async () => {
      const registered = await request(t.app)
        .post('/identity/organizations')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ name: 'Bound later', issuer: thirdIdp.issuer });
      expect(registered.status).toBe(201);
      const { org_id: boundOrgId, api_key: boundApiKey } = registered.body;
      const auth = { authorization: basic(boundOrgId, boundApiKey) };
      const assertion = () => thirdIdp.sign(idTokenClaims(thirdIdp.issuer));
      const seedSession = await exchange(t.app, boundApiKey, { token: await assertion() });
      expect(seedSession.status).toBe(200);
      const oauthSession = await token({ grant_type: JWT_BEARER, assertion: await assertion() }, auth);
      expect(oauthSession.body.token_type).toBe('Bearer');
      const requireDpop = (required: boolean) =>
        request(t.app)
          .patch(`/identity/organizations/${boundOrgId}`)
          .set('authorization', `Bearer ${ADMIN_TOKEN}`)
          .send({ dpop_bound_access_tokens: required });
      const seedRefresh = () =>
        request(t.app).post('/identity/auth/refresh').send({ refresh_token: seedSession.body.refresh_token });
      const key = await proofKey();
      const oauthRefresh = async (withProof: boolean) =>
        token(
          { grant_type: 'refresh_token', refresh_token: oauthSession.body.refresh_token },
          withProof ? { ...auth, dpop: await key.proof() } : auth,
        );

      expect((await requireDpop(true)).status).toBe(200);
      t.store.resetWrites();
      const seedRefused = await seedRefresh();
      expect({ status: seedRefused.status, error: seedRefused.body.error }).toEqual({
        status: 400,
        error: 'invalid_request',
      });
      expect(seedRefused.body.error_description).toMatch(
        /DPoP-bound: .*POST \/oauth\/token with a DPoP proof/,
      );
      expectOAuthError(await oauthRefresh(false), 400, 'invalid_request', 'invalid_request');
      // A proof does not bind a session that started without one: the user exchanges again.
      const withProof = await oauthRefresh(true);
      expectOAuthError(withProof, 400, 'invalid_request', 'invalid_request');
      expect(withProof.body.error_description).toMatch(/POST \/oauth\/token with a DPoP proof/);
      // Refused before anything is used: no rotation, no revoked family (the proof's jti aside).
      expect(t.store.writes.filter((write) => write !== 'consumeOnce')).toEqual([]);

      expect((await requireDpop(false)).status).toBe(200);
      const seedResumed = await seedRefresh();
      expect(seedResumed.status).toBe(200);
      expect(seedResumed.body.token_type).toBe('Bearer');
      const oauthResumed = await oauthRefresh(false);
      expect(oauthResumed.status).toBe(200);
      expect(oauthResumed.body.token_type).toBe('Bearer');
    });
  });

  /**
   * One request per row of the mapping of exchange codes (EXCHANGE_ERROR_MAPPING), each expected
   * answer read from that table. A code the token endpoint cannot answer says why instead.
   */
  describe('every row of the error mapping', () => {
    type Row = () => PromiseLike<TestResponse>;
    const NOT_AT_THE_TOKEN_ENDPOINT = 'a code of other routes: the token endpoint never answers it';
    const rows: Record<RialtoErrorCode, Row | string> = {
      missing_api_key: async () => token({ grant_type: JWT_BEARER, assertion: await idToken() }),
      invalid_api_key: async () => tokenExchange({}, { authorization: basic(orgId, 'rialto_ak_wrong') }),
      invalid_token: () =>
        token({ grant_type: JWT_BEARER, assertion: 'aaa.bbb' }, { authorization: basic(orgId, apiKey) }),
      invalid_signature: async () => {
        const [header, payload] = (await idToken()).split('.');
        return token(
          { grant_type: JWT_BEARER, assertion: `${header}.${payload}.${'A'.repeat(342)}` },
          { authorization: basic(orgId, apiKey) },
        );
      },
      token_expired: async () => {
        const now = Math.floor(Date.now() / 1000);
        return token(
          { grant_type: JWT_BEARER, assertion: await idToken({ iat: now - 700, exp: now - 120 }) },
          { authorization: basic(orgId, apiKey) },
        );
      },
      invalid_issuer: async () =>
        token(
          { grant_type: JWT_BEARER, assertion: await idToken({ iss: undefined }) },
          { authorization: basic(orgId, apiKey) },
        ),
      invalid_audience: async () =>
        token(
          { grant_type: JWT_BEARER, assertion: await idToken({ aud: 'someone-else' }) },
          { authorization: basic(orgId, apiKey) },
        ),
      discovery_failed: async () => {
        idp.behaviour = 'down';
        return token(
          { grant_type: JWT_BEARER, assertion: await idToken() },
          { authorization: basic(orgId, apiKey) },
        );
      },
      issuer_not_registered: async () => {
        const stranger = await startLocalIssuer();
        try {
          return await token(
            { grant_type: JWT_BEARER, assertion: await stranger.sign(idTokenClaims(stranger.issuer)) },
            { authorization: basic(orgId, apiKey) },
          );
        } finally {
          await stranger.close();
        }
      },
      org_mismatch: async () =>
        token(
          { grant_type: JWT_BEARER, assertion: await idToken() },
          { authorization: basic(otherOrgId, otherApiKey) },
        ),
      account_conflict: async () => {
        const strict = await registerOrganization(t.app, {
          name: 'Strict',
          issuer: thirdIdp.issuer,
          client_ids: ['strict-app'],
          email_linking: 'never',
        });
        const auth = { authorization: basic(strict.orgId, strict.apiKey) };
        const sign = (sub: string) =>
          thirdIdp.sign(
            idTokenClaims(thirdIdp.issuer, { sub, aud: 'strict-app', email: 'same@example.com' }),
          );
        expect((await token({ grant_type: JWT_BEARER, assertion: await sign('first') }, auth)).status).toBe(
          200,
        );
        return token({ grant_type: JWT_BEARER, assertion: await sign('second') }, auth);
      },
      access_denied: async () => {
        const denying = await registerOrganization(t.app, {
          name: 'Denying',
          issuer: thirdIdp.issuer,
          client_ids: ['denying-app'],
          condition: 'claims.email.endsWith("@admitted.example")',
        });
        const assertion = await thirdIdp.sign(
          idTokenClaims(thirdIdp.issuer, { aud: 'denying-app', email: 'ada@example.com' }),
        );
        return token(
          { grant_type: JWT_BEARER, assertion },
          { authorization: basic(denying.orgId, denying.apiKey) },
        );
      },
      invalid_dpop_proof:
        'a code of the access-token routes: a bad proof here is the OAuth error invalid_dpop_proof itself (tested above)',
      invalid_transition: NOT_AT_THE_TOKEN_ENDPOINT,
      invalid_request: () =>
        token(
          { grant_type: TOKEN_EXCHANGE, subject_token_type: ID_TOKEN_TYPE },
          { authorization: basic(orgId, apiKey) },
        ),
      invalid_grant: () =>
        token(
          { grant_type: 'refresh_token', refresh_token: 'a.b.c' },
          { authorization: basic(orgId, apiKey) },
        ),
      unauthorized: NOT_AT_THE_TOKEN_ENDPOINT,
      invalid_access_token: NOT_AT_THE_TOKEN_ENDPOINT,
      insufficient_claims: NOT_AT_THE_TOKEN_ENDPOINT,
      insufficient_role: NOT_AT_THE_TOKEN_ENDPOINT,
      organization_suspended: async () => {
        await t.router.exchange.organizations.suspend(orgId);
        return token(
          { grant_type: JWT_BEARER, assertion: await idToken() },
          { authorization: basic(orgId, apiKey) },
        );
      },
      user_not_provisioned: async () => {
        await t.router.exchange.organizations.setProvisioning(orgId, 'link_only');
        return token(
          { grant_type: JWT_BEARER, assertion: await idToken() },
          { authorization: basic(orgId, apiKey) },
        );
      },
      not_found: NOT_AT_THE_TOKEN_ENDPOINT,
      method_not_allowed:
        'answered by the router before any route runs, in the service format (tested below)',
      conflict: NOT_AT_THE_TOKEN_ENDPOINT,
      request_too_large:
        'answered by the binding, which reads at most maxBodyBytes before any route runs (tested below)',
      // RFC 6749 §3.2: a JSON body is refused as a malformed request.
      unsupported_media_type: async () =>
        request(t.app)
          .post('/oauth/token')
          .set('authorization', basic(orgId, apiKey))
          .send({ grant_type: JWT_BEARER, assertion: await idToken() }),
      rate_limited: async () => {
        const limited = createTestApp({
          rateLimit: { perIp: { limit: 1, windowSeconds: 60 }, perOrganization: false },
        });
        const call = () =>
          request(limited.app)
            .post('/oauth/token')
            .send(
              form({ grant_type: JWT_BEARER, assertion: 'a.b.c', client_id: orgId, client_secret: 'wrong' }),
            );
        // A refused attempt counts against the per-address limit too.
        expect((await call()).status).toBe(401);
        return call();
      },
      server_error: 'no real part of the suite can make the exchange fail that way',
      temporarily_unavailable: async () => {
        // A real store behind a proxy that stops forwarding: the outage the mapping answers with 503.
        const proxy = await startTcpProxy(REDIS_URL);
        const backing = disposableStore('redis', { via: proxy.url, timeoutMs: 2000 });
        try {
          const failing = createTestApp({ store: recordingStore(backing.store), rateLimit: false });
          const registered = await registerOrganization(failing.app, { name: 'Down', issuer: idp.issuer });
          proxy.refuse();
          return await request(failing.app)
            .post('/oauth/token')
            .set('authorization', basic(registered.orgId, registered.apiKey))
            .send(form({ grant_type: JWT_BEARER, assertion: await idToken() }));
        } finally {
          proxy.restore();
          await backing.dispose();
          await proxy.close();
        }
      },
    };

    const producible = Object.entries(rows).filter(
      (entry): entry is [RialtoErrorCode, Row] => typeof entry[1] === 'function',
    );
    it.each(producible)('answers %s as the mapping says', async (code, row) => {
      const mapping: { error: Parameters<typeof oauthStatusOf>[0]; status?: number } =
        EXCHANGE_ERROR_MAPPING[code];
      const response = await row();
      expectOAuthError(response, mapping.status ?? oauthStatusOf(mapping.error), mapping.error, code);
      if (mapping.error === 'temporarily_unavailable')
        expect(response.headers['retry-after']).toMatch(/^\d+$/);
    });

    it('answers a body over maxBodyBytes 413 and another method 405 before the endpoint runs', async () => {
      const large = await request(t.app)
        .post('/oauth/token')
        .send(`assertion=${'a'.repeat(70_000)}`);
      expect({ status: large.status, error: large.body.error }).toEqual({
        status: 413,
        error: 'request_too_large',
      });
      const get = await request(t.app).get('/oauth/token');
      expect({ status: get.status, error: get.body.error }).toEqual({
        status: 405,
        error: 'method_not_allowed',
      });
    });
  });
});
