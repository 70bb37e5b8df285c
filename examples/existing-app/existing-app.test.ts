import { startDevIdp } from '@rialto-exchange/dev-idp';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createExistingApp } from './app.js';

const ADMIN_TOKEN = 'existing-app-admin-token';

describe('the exchange mounted under /auth in an existing app', () => {
  it('keeps host routes, sessions and error pages, and serves the exchange beside them', async () => {
    const idp = await startDevIdp();
    try {
      const store = memoryStore();
      const { app } = createExistingApp({
        publicUrl: 'http://127.0.0.1:3000',
        store,
        adminToken: ADMIN_TOKEN,
        // The dev IdP speaks http on loopback.
        allowInsecureIssuers: true,
        allowPrivateIssuers: true,
      });

      const home = await request(app).get('/');
      expect(home.status).toBe(200);
      expect(home.text).toContain('Visit 1');
      expect(home.headers['set-cookie']?.[0]).toMatch(/^sid=/);
      expect((await request(app).get('/boom')).text).toContain('Something went wrong');

      const registration = await request(app)
        .post('/auth/identity/organizations')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ name: 'Acme', issuer: idp.issuer });
      expect(registration.status).toBe(201);

      const tokens = await request(app)
        .post('/auth/identity/auth/exchange')
        .set('x-api-key', registration.body.api_key)
        .send({ token: await idp.getIdToken({ email: 'ada@example.com' }) });
      expect(tokens.status).toBe(200);
      expect(decodeJwt(tokens.body.access_token).iss).toBe('http://127.0.0.1:3000/auth');

      const badBody = await request(app)
        .post('/auth/identity/auth/exchange')
        .set('x-api-key', 'nope')
        .send('{');
      expect(badBody.status).toBe(401);
      expect(badBody.body.error).toBe('invalid_api_key');

      const portfolio = await request(app)
        .get('/portfolio')
        .set('authorization', `Bearer ${tokens.body.access_token}`);
      expect(portfolio.status).toBe(403);
      expect(portfolio.body).toEqual({
        error: 'insufficient_claims',
        error_description: "The access token's kyc_completed claim must be true.",
      });

      const userId = decodeJwt(tokens.body.access_token).user_id as string;
      const orgId = registration.body.org_id as string;
      const user = await store.getUser(orgId, userId);
      expect(user?.kycStatus).toBe('not_started');

      expect((await request(app).get('/auth/.well-known/jwks.json')).body.keys).toHaveLength(1);
      expect((await request(app).get('/.well-known/jwks.json')).status).toBe(404);
    } finally {
      await idp.close();
    }
  });
});
