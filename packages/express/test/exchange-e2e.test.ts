import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  type ExpressFlavour,
  exchange,
  registerOrganization,
  SERVICE_ISSUER,
  type TestApp,
} from './helpers.js';

const flavours: ExpressFlavour[] = ['express5', 'express4'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe.each(flavours)('end-to-end exchange against a real OpenID provider on %s', (flavour) => {
  let idp: DevIdp;
  let secondIdp: DevIdp;
  let t: TestApp;
  let server: Server;
  let baseUrl: string;
  let apiKey: string;
  let orgId: string;

  beforeAll(async () => {
    [idp, secondIdp] = await Promise.all([startDevIdp(), startDevIdp({ clientId: 'second-partner' })]);
    t = createTestApp({ flavour });
    server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ({ apiKey, orgId } = await registerOrganization(t.app, {
      name: 'Acme Capital',
      issuer: idp.issuer,
      audience: ['primary-issuance'],
      client_ids: [idp.clientId],
    }));
  });

  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await Promise.all([idp.close(), secondIdp.close()]);
  });

  it('exchanges an ID token for tokens shaped exactly as documented', async () => {
    const idToken = await idp.getIdToken({ email: 'ada@example.com' });
    const response = await exchange(t.app, apiKey, { token: idToken });

    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(Object.keys(response.body).sort()).toEqual(
      ['access_token', 'expires_in', 'refresh_expires_in', 'refresh_token', 'scope', 'token_type'].sort(),
    );
    expect(response.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      refresh_expires_in: 1800,
      scope: 'openid email profile aud:identity aud:primary-issuance',
    });
    expect(decodeProtectedHeader(response.body.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(decodeProtectedHeader(response.body.refresh_token)).toMatchObject({ alg: 'HS256' });
  });

  it("mints an access token any JWT library verifies with the service's published JWKS", async () => {
    const response = await exchange(t.app, apiKey, {
      token: await idp.getIdToken({ email: 'grace@example.com' }),
    });
    const discovery = await (await fetch(`${baseUrl}/.well-known/openid-configuration`)).json();
    expect(discovery).toMatchObject({
      issuer: SERVICE_ISSUER,
      jwks_uri: `${SERVICE_ISSUER}/.well-known/jwks.json`,
    });

    // The test server listens on a random port, so fetch the JWKS there rather than at the issuer URL.
    const keySet = createRemoteJWKSet(new URL(`${baseUrl}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(response.body.access_token, keySet, {
      issuer: SERVICE_ISSUER,
      audience: 'primary-issuance',
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toEqual(expect.any(String));
    expect(payload).toMatchObject({
      iss: SERVICE_ISSUER,
      aud: ['identity', 'primary-issuance'],
      scope: 'openid email profile aud:identity aud:primary-issuance',
      org_id: orgId,
      org_name: 'Acme Capital',
      email: 'grace@example.com',
      onboarding_completed: false,
      kyc_completed: false,
      accredited: false,
      accreditation_verified: false,
    });
    expect(payload.sub).toMatch(UUID);
    expect(payload.user_id).toBe(payload.sub);
    expect(payload.jti).toEqual(expect.any(String));
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);
  });

  it('reuses the same user on a later exchange', async () => {
    const first = await exchange(t.app, apiKey, {
      token: await idp.getIdToken({ email: 'linus@example.com' }),
    });
    const second = await exchange(t.app, apiKey, {
      token: await idp.getIdToken({ email: 'linus@example.com' }),
    });
    const userOf = (body: { access_token: string }) =>
      JSON.parse(Buffer.from(body.access_token.split('.')[1] as string, 'base64url').toString()).user_id;
    expect(userOf(second.body)).toBe(userOf(first.body));
  });

  it('creates a separate user for the same email in another organization', async () => {
    const other = await registerOrganization(t.app, { name: 'Second Partner', issuer: secondIdp.issuer });
    const inFirst = await exchange(t.app, apiKey, {
      token: await idp.getIdToken({ email: 'shared@example.com' }),
    });
    const inSecond = await exchange(t.app, other.apiKey, {
      token: await secondIdp.getIdToken({ email: 'shared@example.com' }),
    });
    const claimsOf = (body: { access_token: string }) =>
      JSON.parse(Buffer.from(body.access_token.split('.')[1] as string, 'base64url').toString());
    expect(claimsOf(inFirst.body).user_id).not.toBe(claimsOf(inSecond.body).user_id);
    expect(claimsOf(inSecond.body).org_id).toBe(other.orgId);

    // Each org sees only its own user.
    const firstUser = claimsOf(inFirst.body).user_id;
    const crossOrg = await request(t.app)
      .get(`/identity/users/${firstUser}`)
      .set('authorization', `Bearer ${inSecond.body.access_token}`);
    expect(crossOrg.status).toBe(404);
    const ownOrg = await request(t.app)
      .get(`/identity/users/${firstUser}`)
      .set('authorization', `Bearer ${inFirst.body.access_token}`);
    expect(ownOrg.status).toBe(200);
    expect(ownOrg.body).toMatchObject({ user_id: firstUser, org_id: orgId, email: 'shared@example.com' });
  });
});
