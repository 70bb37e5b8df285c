import express from 'express';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindAccessToken, type DpopKey, dpopKey } from '../../core/test/oauth-helpers.js';
import { requireRialtoToken } from '../src/index.js';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  SERVICE_ISSUER,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

// From routes.test.ts, which moved to packages/core/test: requireRialtoToken is the Express binding's.
let idp: LocalIssuer;
beforeAll(async () => {
  idp = await startLocalIssuer();
});
afterAll(() => idp.close());

describe('requireRialtoToken and host routes', () => {
  let t: TestApp;
  let app: express.Express;
  let accessToken: string;
  beforeAll(async () => {
    t = createTestApp();
    app = t.app;
    app.get('/hello', (_req, res) => {
      res.send('host route');
    });
    app.get(
      '/portfolio',
      requireRialtoToken({ exchange: t.router, claims: { kyc_completed: true } }),
      (_req, res) => {
        res.json({ ok: true });
      },
    );
    app.get('/me', requireRialtoToken({ exchange: t.router }), (req, res) => {
      res.json({ user_id: req.rialto?.claims.user_id, org_id: req.rialto?.claims.org_id });
    });
    app.get(
      '/issuance',
      requireRialtoToken({ exchange: t.router, audience: 'primary-issuance' }),
      (_req, res) => {
        res.json({ ok: true });
      },
    );
    const { apiKey } = await registerOrganization(app, { name: 'Acme', issuer: idp.issuer });
    const tokens = await exchange(app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    accessToken = tokens.body.access_token;
  });

  it('lets requests for other paths through to host routes', async () => {
    const response = await request(app).get('/hello');
    expect(response.status).toBe(200);
    expect(response.text).toBe('host route');
  });

  it('puts the verified claims on req.rialto', async () => {
    const response = await request(app).get('/me').set('authorization', `Bearer ${accessToken}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      user_id: decodeJwt(accessToken).user_id,
      org_id: decodeJwt(accessToken).org_id,
    });
  });

  it('answers unauthorized 401 without a token', async () => {
    expectFailsWith(await request(app).get('/me'), 401, 'unauthorized');
  });

  it('answers insufficient_claims 403 when a required claim differs', async () => {
    const response = await request(app).get('/portfolio').set('authorization', `Bearer ${accessToken}`);
    expectFailsWith(response, 403, 'insufficient_claims', /kyc_completed claim must be true/);
  });

  it('answers invalid_access_token 401 for a token without the required audience', async () => {
    const response = await request(app).get('/issuance').set('authorization', `Bearer ${accessToken}`);
    expectFailsWith(response, 401, 'invalid_access_token', /audience/);
  });

  it('uses the most recently created exchange when none is passed', async () => {
    const latest = createTestApp();
    latest.app.get('/me', requireRialtoToken(), (req, res) => {
      res.json({ user_id: req.rialto?.claims.user_id });
    });
    const { apiKey } = await registerOrganization(latest.app, { name: 'Acme', issuer: idp.issuer });
    const tokens = await exchange(latest.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    const response = await request(latest.app)
      .get('/me')
      .set('authorization', `Bearer ${tokens.body.access_token}`);
    expect(response.status).toBe(200);
  });
});

describe('requireRialtoToken and DPoP-bound tokens', () => {
  let t: TestApp;
  let bound: string;
  let key: DpopKey;
  beforeAll(async () => {
    t = createTestApp();
    // Mounted under a prefix: the proof names the whole path the client requested.
    const api = express.Router();
    api.get('/me', requireRialtoToken({ exchange: t.router }), (req, res) => {
      res.json({ user_id: req.rialto?.claims.user_id });
    });
    t.app.use('/api', api);
    const { apiKey } = await registerOrganization(t.app, { name: 'Bound', issuer: idp.issuer });
    const tokens = await exchange(t.app, apiKey, {
      token: await idp.sign(idTokenClaims(idp.issuer, { sub: 'bound-user', email: 'bound@example.com' })),
    });
    key = await dpopKey();
    bound = await bindAccessToken(t.store, tokens.body.access_token, key.jkt);
  });

  it("names the issuer's origin and the request's full path as htu by default", async () => {
    const response = await request(t.app)
      .get('/api/me?view=full')
      .set('authorization', `DPoP ${bound}`)
      .set('dpop', await key.proof('GET', `${SERVICE_ISSUER}/api/me`, bound));
    expect(response.status).toBe(200);
    expect(response.body.user_id).toBe(decodeJwt(bound).user_id);
  });

  it('refuses a proof naming the path without its mount prefix: 401 invalid_dpop_proof with a DPoP challenge', async () => {
    const response = await request(t.app)
      .get('/api/me')
      .set('authorization', `DPoP ${bound}`)
      .set('dpop', await key.proof('GET', `${SERVICE_ISSUER}/me`, bound));
    expectFailsWith(response, 401, 'invalid_dpop_proof', /htu/);
    expect(response.headers['www-authenticate']).toMatch(/^DPoP realm="rialto", error="invalid_dpop_proof"/);
  });

  it('refuses the bound token as Bearer with WWW-Authenticate: DPoP error="invalid_token"', async () => {
    const response = await request(t.app).get('/api/me').set('authorization', `Bearer ${bound}`);
    expectFailsWith(response, 401, 'invalid_access_token');
    expect(response.headers['www-authenticate']).toMatch(/^DPoP realm="rialto", error="invalid_token"/);
  });

  it('refuses a publicOrigin that is not an absolute URL when the guard is built', () => {
    expect(() => requireRialtoToken({ exchange: t.router, publicOrigin: 'api.example.com' })).toThrow(
      /publicOrigin/,
    );
  });
});
