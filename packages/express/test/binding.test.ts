import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '@rialto-exchange/core';
import express, { type NextFunction, type Request, type Response } from 'express';
import express4 from 'express4';
import { decodeJwt } from 'jose';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRialtoToken, rialtoExchange, rialtoMetricsHandler } from '../src/index.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  type ExpressFlavour,
  exchange,
  expectFailsWith,
  expressConformance,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

/**
 * What the Express binding adds to core, under Express 5 and Express 4: mounting, prefixes, how it
 * reads bodies (its own limit, or a host parser's result), `req.ip` with `trust proxy`, and JSON
 * answers where Express would answer HTML. Core's behaviour is tested once, in packages/core/test.
 */
const flavours: ExpressFlavour[] = ['express5', 'express4'];
const makeApp = (flavour: ExpressFlavour) =>
  (flavour === 'express4' ? express4() : express()) as express.Express;

let idp: LocalIssuer;
beforeAll(async () => {
  idp = await startLocalIssuer();
});
afterAll(() => idp.close());

describe.each(flavours)('the Express binding on %s', (flavour) => {
  it('mounts at the root and leaves other paths to the host routes', async () => {
    const t = createTestApp({ flavour });
    t.app.get('/host', (_req, res) => {
      res.type('text').send('host route');
    });
    const host = await request(t.app).get('/host');
    expect({ status: host.status, text: host.text }).toEqual({ status: 200, text: 'host route' });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) })).status).toBe(
      200,
    );
  });

  it('serves under a prefix with app.use(prefix, router), and nothing of it at the root', async () => {
    const app = makeApp(flavour);
    const router = rialtoExchange({
      issuer: 'http://localhost:3000/auth',
      store: recordingStore(),
      adminToken: ADMIN_TOKEN,
      allowInsecureIssuers: true,
      allowPrivateIssuers: true,
    });
    app.use('/auth', expressConformance(router.exchange), router);
    const jwks = await request(app).get('/auth/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toHaveLength(1);
    expect((await request(app).get('/.well-known/jwks.json')).status).toBe(404);
    const configuration = await request(app).get('/auth/.well-known/openid-configuration');
    expect(configuration.body.issuer).toBe('http://localhost:3000/auth');
  });

  it('passes the query string on, under a prefix too, to routes that read query parameters', async () => {
    const app = makeApp(flavour);
    const router = rialtoExchange({
      issuer: 'http://localhost:3000/auth',
      store: recordingStore(),
      adminToken: ADMIN_TOKEN,
      allowInsecureIssuers: true,
      allowPrivateIssuers: true,
    });
    app.use('/auth', expressConformance(router.exchange), router);
    for (const name of ['Acme Capital', 'Globex']) {
      const registered = await request(app)
        .post('/auth/identity/organizations')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ name, issuer: `${idp.issuer}/${name.split(' ')[0]?.toLowerCase()}` });
      expect(registered.status).toBe(201);
    }
    const found = await request(app)
      .get('/auth/identity/organizations?query=capital&limit=5')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(found.status).toBe(200);
    expect(found.body.organizations.map((org: { name: string }) => org.name)).toEqual(['Acme Capital']);
    const refused = await request(app)
      .get('/auth/identity/organizations?limit=0')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`);
    expectFailsWith(refused, 400, 'invalid_request', 'limit: must be at least 1');
  });

  it('leaves the body of a request it passes on unread, for a host parser mounted after it', async () => {
    const t = createTestApp({ flavour });
    t.app.use(express.json());
    t.app.post('/host/orders', (req, res) => {
      res.json({ received: req.body });
    });
    const response = await request(t.app).post('/host/orders').send({ order: 7 });
    expect({ status: response.status, body: response.body }).toEqual({
      status: 200,
      body: { received: { order: 7 } },
    });
  });

  it('serves two exchanges mounted under two prefixes, each on its own paths', async () => {
    const app = makeApp(flavour);
    const mount = (prefix: string) => {
      const router = rialtoExchange({
        issuer: `http://localhost:3000${prefix}`,
        store: recordingStore(),
        adminToken: ADMIN_TOKEN,
      });
      app.use(prefix, expressConformance(router.exchange), router);
    };
    mount('/partners');
    mount('/staff');
    const issuerAt = async (prefix: string) =>
      (await request(app).get(`${prefix}/.well-known/openid-configuration`)).body.issuer;
    expect(await issuerAt('/partners')).toBe('http://localhost:3000/partners');
    expect(await issuerAt('/staff')).toBe('http://localhost:3000/staff');
  });

  it('guards a host route with requireRialtoToken: a Bearer challenge without a token, the claims on req.rialto with one', async () => {
    const t = createTestApp({ flavour });
    t.app.get('/me', requireRialtoToken({ exchange: t.router }), (req, res) => {
      res.json({ user_id: req.rialto?.claims.user_id });
    });
    const refused = await request(t.app).get('/me');
    expectFailsWith(refused, 401, 'unauthorized');
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer realm="rialto"/);
    const { apiKey } = await registerOrganization(t.app, { name: 'Guarded', issuer: idp.issuer });
    const tokens = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    const admitted = await request(t.app)
      .get('/me')
      .set('authorization', `Bearer ${tokens.body.access_token}`);
    expect(admitted.body).toEqual({ user_id: decodeJwt(tokens.body.access_token).user_id });
  });

  it('serves the Prometheus text format through rialtoMetricsHandler', async () => {
    const t = createTestApp({ flavour, metrics: { registry: new Registry() } });
    await request(t.app).get('/.well-known/jwks.json');
    const scraper = makeApp(flavour);
    scraper.get('/metrics', rialtoMetricsHandler(t.router));
    const response = await request(scraper).get('/metrics');
    expect(response.status).toBe(200);
    // Express 4 moves the charset before the version parameter; Prometheus reads either order.
    expect(response.headers['content-type']).toMatch(/^text\/plain;/);
    expect(response.headers['content-type']).toMatch(/; version=0\.0\.4\b/);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.text).toMatch(
      /^rialto_http_request_duration_seconds_count\{.*route="\/\.well-known\/jwks\.json".*\} 1$/m,
    );
  });

  it('accepts a body a host JSON parser already consumed', async () => {
    const host = createTestApp();
    const app = makeApp(flavour);
    app.use(express.json());
    app.use(host.router);
    const { apiKey: key } = await registerOrganization(app, { name: 'Parsed', issuer: idp.issuer });
    const token = await idp.sign(idTokenClaims(idp.issuer));
    const response = await request(app).post('/identity/auth/exchange').set('x-api-key', key).send({ token });
    expect(response.status).toBe(200);
  });

  it('accepts a body a host text parser already read as a string', async () => {
    const host = createTestApp();
    const app = makeApp(flavour);
    app.use(express.text({ type: '*/*' }));
    app.use(host.router);
    const { apiKey: key } = await registerOrganization(app, { name: 'Text', issuer: idp.issuer });
    const token = await idp.sign(idTokenClaims(idp.issuer));
    const response = await exchange(app, key, { token });
    expect(response.status).toBe(200);
  });

  it('refuses a declared content-length over maxBodyBytes with 413 and closes the connection', async () => {
    const t = createTestApp({ flavour, maxBodyBytes: 1024 });
    const response = await exchange(t.app, 'nope', { token: 'a'.repeat(2048) });
    expectFailsWith(response, 413, 'request_too_large', /^The request body must not exceed 1024 bytes\.$/);
    expect(response.headers.connection).toBe('close');
    expect(t.store.writes).toEqual([]);
  });

  it('refuses a chunked body once it passes maxBodyBytes, without a declared length', async () => {
    const t = createTestApp({ flavour, maxBodyBytes: 1024 });
    const server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const outgoing = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/identity/auth/exchange',
        headers: { 'content-type': 'application/json', 'x-api-key': 'nope' },
      });
      outgoing.on('error', () => {}); // the server may close before every chunk is written
      for (let chunk = 0; chunk < 8; chunk++) outgoing.write('x'.repeat(512));
      outgoing.end();
      const [incoming] = (await once(outgoing, 'response')) as [import('node:http').IncomingMessage];
      let text = '';
      for await (const chunk of incoming) text += chunk;
      expect(incoming.headers['transfer-encoding']).toBeUndefined();
      expect({ status: incoming.statusCode, body: JSON.parse(text) }).toEqual({
        status: 413,
        body: {
          error: 'request_too_large',
          error_description: 'The request body must not exceed 1024 bytes.',
        },
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refuses a compressed body with unsupported_media_type 415', async () => {
    const t = createTestApp({ flavour });
    const response = await request(t.app)
      .post('/identity/auth/exchange')
      .set('x-api-key', 'nope')
      .set('content-encoding', 'gzip')
      .send('{"token":"x"}');
    expectFailsWith(
      response,
      415,
      'unsupported_media_type',
      /^Compressed request bodies are not accepted\.$/,
    );
  });

  it("answers a method the path does not serve with 405 JSON and Allow, not Express's HTML", async () => {
    const t = createTestApp({ flavour });
    const response = await request(t.app).put('/identity/auth/exchange').send({});
    expectFailsWith(response, 405, 'method_not_allowed');
    expect(response.headers.allow).toBe('POST');
  });

  it("answers a server error as JSON, not the host's HTML error page", async () => {
    const failing = (): Promise<never> => Promise.reject(new Error('disk on fire'));
    const store = recordingStore({
      ...recordingStore(),
      getOrganization: failing,
      listActiveApiKeys: failing,
    } as Store);
    const t = createTestApp({ flavour, store, logger: { error() {}, warn() {}, info() {}, debug() {} } });
    t.app.use((_error: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).type('html').send('<h1>host error page</h1>');
    });
    const response = await exchange(
      t.app,
      `rialto_ak_00000000-0000-4000-8000-000000000000_${'A'.repeat(43)}`,
      { token: 'x' },
    );
    expectFailsWith(response, 500, 'server_error', /^An unexpected error occurred\.$/);
    expect(response.text).not.toContain('disk on fire');
  });

  describe('the client address from req.ip', () => {
    // From rate-limit.test.ts: with `trust proxy`, Express resolves req.ip from X-Forwarded-For.
    it('counts every address of one IPv6 /64 as one client, and an IPv4-mapped address as its IPv4', async () => {
      const t = createTestApp({
        flavour,
        rateLimit: { perIp: { limit: 2, windowSeconds: 60 }, perOrganization: false },
      });
      t.app.set('trust proxy', true);
      const from = (address: string) =>
        request(t.app).post('/identity/auth/exchange').set('x-forwarded-for', address).send({ token: 'x' });

      expect((await from('2001:db8:1:2::1')).status).toBe(401);
      expect((await from('2001:db8:1:2:ffff::9')).status).toBe(401);
      expectFailsWith(await from('2001:db8:1:2:abcd::77'), 429, 'rate_limited', /client address/);
      expect((await from('2001:db8:1:3::1')).status).toBe(401);

      expect((await from('192.0.2.7')).status).toBe(401);
      expect((await from('::ffff:192.0.2.7')).status).toBe(401);
      expectFailsWith(await from('::ffff:c000:207'), 429, 'rate_limited');
    });

    it('keys IPv6 clients by the configured prefix length', async () => {
      const t = createTestApp({
        flavour,
        rateLimit: { perIp: { limit: 1, windowSeconds: 60 }, perOrganization: false, ipv6PrefixLength: 128 },
      });
      t.app.set('trust proxy', true);
      const from = (address: string) =>
        request(t.app).post('/identity/auth/exchange').set('x-forwarded-for', address).send({ token: 'x' });

      expect((await from('2001:db8:1:2::1')).status).toBe(401);
      expect((await from('2001:db8:1:2::2')).status).toBe(401);
      expectFailsWith(await from('2001:db8:1:2::1'), 429, 'rate_limited');
    });
  });
});

// From idp-address-policy.test.ts: the issuer default is the Express binding's.
describe('the zero-config development default', () => {
  function register(app: express.Express, issuer: string) {
    return request(app)
      .post('/identity/organizations')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ name: 'Acme', issuer });
  }

  it('lets rialtoExchange() without an issuer register and use a loopback IdP', async () => {
    const store = recordingStore();
    const app = express();
    app.use(rialtoExchange({ store, adminToken: ADMIN_TOKEN, allowInsecureIssuers: true }));
    const { apiKey } = await registerOrganization(app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) })).status).toBe(
      200,
    );
  });

  it('refuses loopback IdPs once the service has a production issuer', async () => {
    const app = express();
    app.use(
      rialtoExchange({
        store: recordingStore(),
        issuer: 'https://api.example.com',
        adminToken: ADMIN_TOKEN,
        allowInsecureIssuers: true,
      }),
    );
    expectFailsWith(await register(app, idp.issuer), 400, 'invalid_request', /loopback/);
  });
});
