import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeFromUrl } from '@rialto-exchange/storage-adapters';
import express from 'express';
import { decodeProtectedHeader, exportPKCS8, generateKeyPair } from 'jose';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RialtoExchangeRouter, rialtoExchange } from '../src/index.js';
import {
  ADMIN_TOKEN,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  SERVICE_ISSUER,
  startLocalIssuer,
} from './helpers.js';

// rialtoExchange() reads process.env; each test sets what it needs and the originals come back after.
const VARIABLES = [
  'RIALTO_STORE',
  'RIALTO_ACCESS_TOKEN_KEY',
  'RIALTO_ACCESS_TOKEN_ALGORITHM',
  'RIALTO_ADMIN_TOKEN',
  'RIALTO_ISSUER',
] as const;
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));

describe('rialtoExchange() configured from the environment', () => {
  let idp: LocalIssuer;
  const routers: RialtoExchangeRouter[] = [];
  const directory = mkdtempSync(join(tmpdir(), 'rialto-env-'));

  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterEach(async () => {
    for (const name of VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    await Promise.all(routers.splice(0).map((router) => router.close()));
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await idp.close();
    rmSync(directory, { recursive: true, force: true });
  });

  function mount(options: Parameters<typeof rialtoExchange>[0] = {}) {
    const router = rialtoExchange({
      issuer: SERVICE_ISSUER,
      allowInsecureIssuers: true,
      rateLimit: false,
      ...options,
    });
    routers.push(router);
    const app = express();
    app.use(router);
    return app;
  }

  it('warns once that the admin routes answer 404 when neither adminToken nor authorizeAdmin is set', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const app = mount({ store: storeFromUrl('memory:') });
    mount({ store: storeFromUrl('memory:') });
    const admin = warn.mock.calls.filter(
      ([, options]) => (options as { code?: string })?.code === 'RIALTO_ADMIN_ROUTES_DISABLED',
    );
    expect(admin).toHaveLength(1);
    expect(String(admin[0]?.[0])).toMatch(
      /answer 404 because neither `adminToken` \(RIALTO_ADMIN_TOKEN\) nor `authorizeAdmin` is set/,
    );
    const response = await request(app)
      .post('/identity/organizations')
      .send({ name: 'Acme', issuer: idp.issuer });
    expect(response.status).toBe(404);
  });

  // Before: RIALTO_STORE was read by the CLI only; the middleware fell back to ./.rialto/rialto.db.
  it('opens the store RIALTO_STORE names when no store is passed', async () => {
    const url = `sqlite:${join(directory, 'from-env.db')}`;
    process.env.RIALTO_STORE = url;
    const app = mount({ adminToken: ADMIN_TOKEN });
    const { orgId } = await registerOrganization(app, { name: 'Acme', issuer: idp.issuer });
    const reader = storeFromUrl(url);
    try {
      expect((await reader.getOrganization(orgId))?.name).toBe('Acme');
    } finally {
      await reader.close();
    }
  });

  it('refuses an unknown RIALTO_STORE scheme at start-up without echoing the URL', () => {
    process.env.RIALTO_STORE = 'mongodb://user:hunter2@db.example/rialto';
    expect(() => mount()).toThrow(/^storeFromUrl: the URL must start with memory:/);
    expect(() => mount()).not.toThrow(/hunter2/);
  });

  // Before: an ES256 key in RIALTO_ACCESS_TOKEN_KEY without `accessTokenAlgorithm: 'ES256'` made
  // every exchange answer 500, and no variable could name the algorithm.
  it('signs with ES256 when RIALTO_ACCESS_TOKEN_KEY is an EC P-256 key and no algorithm is named', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    process.env.RIALTO_ACCESS_TOKEN_KEY = await exportPKCS8(privateKey);
    const app = mount({ adminToken: ADMIN_TOKEN, store: storeFromUrl('memory:') });
    const { apiKey } = await registerOrganization(app, { name: 'Acme', issuer: idp.issuer });
    const response = await exchange(app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expect(response.status).toBe(200);
    expect(decodeProtectedHeader(response.body.access_token).alg).toBe('ES256');
    const configuration = await request(app).get('/.well-known/openid-configuration');
    expect(configuration.body.access_token_signing_alg_values_supported).toEqual(['ES256']);
  });

  it('honours RIALTO_ACCESS_TOKEN_ALGORITHM for an RSA key (PS256)', async () => {
    const { privateKey } = await generateKeyPair('PS256', { extractable: true });
    process.env.RIALTO_ACCESS_TOKEN_KEY = await exportPKCS8(privateKey);
    process.env.RIALTO_ACCESS_TOKEN_ALGORITHM = 'PS256';
    const app = mount({ adminToken: ADMIN_TOKEN, store: storeFromUrl('memory:') });
    const { apiKey } = await registerOrganization(app, { name: 'Acme', issuer: idp.issuer });
    const response = await exchange(app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expect(response.status).toBe(200);
    expect(decodeProtectedHeader(response.body.access_token).alg).toBe('PS256');
  });

  it('refuses a RIALTO_ACCESS_TOKEN_ALGORITHM the key cannot sign, at start-up', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    process.env.RIALTO_ACCESS_TOKEN_KEY = await exportPKCS8(privateKey);
    process.env.RIALTO_ACCESS_TOKEN_ALGORITHM = 'RS256';
    expect(() => mount({ store: storeFromUrl('memory:') })).toThrow(
      new TypeError(
        'createRialtoExchange: `accessTokenAlgorithm` is RS256 but `accessTokenKey` is a key for ES256; set the algorithm to match the key (RIALTO_ACCESS_TOKEN_ALGORITHM from the environment)',
      ),
    );
  });

  it('refuses an unknown RIALTO_ACCESS_TOKEN_ALGORITHM at start-up', () => {
    process.env.RIALTO_ACCESS_TOKEN_ALGORITHM = 'HS256';
    expect(() => mount({ store: storeFromUrl('memory:') })).toThrow(
      new TypeError('createRialtoExchange: `accessTokenAlgorithm` must be one of RS256, PS256, ES256, EdDSA'),
    );
  });
});
