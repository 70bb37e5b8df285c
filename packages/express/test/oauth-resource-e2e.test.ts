import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindAccessToken } from '../../core/test/oauth-helpers.js';
import { requireRialtoToken } from '../src/index.js';
import { createTestApp, exchange, registerOrganization, SERVICE_ISSUER, type TestApp } from './helpers.js';

/**
 * Revocation, introspection and a DPoP-bound token at a requireRialtoToken() route, driven by
 * standard clients nobody here wrote (openid-client 6, oauth4webapi 3) against the real router on a
 * real port, with tokens obtained from a real OpenID provider's ID token through the exchange.
 */
describe('standard OAuth clients against revocation, introspection and a DPoP-protected route', () => {
  let idp: DevIdp;
  let t: TestApp;
  let server: Server;
  let baseUrl: string;
  let org: { orgId: string; apiKey: string };
  let signIns = 0;

  beforeAll(async () => {
    idp = await startDevIdp();
    t = createTestApp();
    server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The API's published origin is where the clients reach it: the proofs' htu names it.
    t.app.get('/portfolio', requireRialtoToken({ exchange: t.router, publicOrigin: baseUrl }), (req, res) => {
      res.json({ user_id: req.rialto?.claims.user_id, bound_to: req.rialto?.claims.cnf?.jkt ?? null });
    });
    org = await registerOrganization(t.app, {
      name: 'Acme Capital',
      issuer: idp.issuer,
      audience: ['primary-issuance'],
      client_ids: [idp.clientId],
    });
  });

  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await idp.close();
  });

  async function signIn() {
    signIns += 1;
    const response = await exchange(t.app, org.apiKey, {
      token: await idp.getIdToken({ email: `investor${signIns}@example.com` }),
    });
    expect(response.status).toBe(200);
    return response.body as { access_token: string; refresh_token: string };
  }

  function openIdClientConfig(secret = org.apiKey) {
    const config = new client.Configuration(
      {
        issuer: SERVICE_ISSUER,
        revocation_endpoint: `${baseUrl}/oauth/revoke`,
        introspection_endpoint: `${baseUrl}/oauth/introspect`,
      },
      org.orgId,
      undefined,
      client.ClientSecretBasic(secret),
    );
    client.allowInsecureRequests(config);
    return config;
  }

  const authorizationServer = (): oauth.AuthorizationServer => ({
    issuer: SERVICE_ISSUER,
    revocation_endpoint: `${baseUrl}/oauth/revoke`,
    introspection_endpoint: `${baseUrl}/oauth/introspect`,
  });
  const insecure = { [oauth.allowInsecureRequests]: true };

  describe('openid-client 6', () => {
    it('introspects an access token and a refresh token with tokenIntrospection', async () => {
      const tokens = await signIn();
      const config = openIdClientConfig();
      const access = await client.tokenIntrospection(config, tokens.access_token);
      expect(access).toMatchObject({
        active: true,
        token_type: 'Bearer',
        client_id: org.orgId,
        org_id: org.orgId,
        user_id: decodeJwt(tokens.access_token).user_id,
        iss: SERVICE_ISSUER,
        scope: 'openid email profile aud:identity aud:primary-issuance',
      });
      const refresh = await client.tokenIntrospection(config, tokens.refresh_token, {
        token_type_hint: 'refresh_token',
      });
      expect(refresh).toMatchObject({ active: true, token_type: 'refresh_token', client_id: org.orgId });
    });

    it('revokes a refresh token with tokenRevocation, after which introspection says inactive', async () => {
      const tokens = await signIn();
      const config = openIdClientConfig();
      await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
      expect(await client.tokenIntrospection(config, tokens.refresh_token)).toEqual({ active: false });
      // Revoking it again is no error (RFC 7009 §2.2).
      await client.tokenRevocation(config, tokens.refresh_token);
    });

    it('reports invalid_client with its Basic challenge for a wrong secret', async () => {
      const tokens = await signIn();
      const failure = await client
        .tokenRevocation(openIdClientConfig('rialto_ak_wrong'), tokens.refresh_token)
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(client.WWWAuthenticateChallengeError);
      expect(failure).toMatchObject({
        status: 401,
        cause: [
          expect.objectContaining({
            scheme: 'basic',
            parameters: expect.objectContaining({ error: 'invalid_client' }),
          }),
        ],
      });
    });

    it('reports unsupported_token_type when asked to revoke an access token', async () => {
      const tokens = await signIn();
      const failure = await client
        .tokenRevocation(openIdClientConfig(), tokens.access_token)
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(client.ResponseBodyError);
      expect(failure).toMatchObject({ status: 400, error: 'unsupported_token_type' });
    });

    it('calls a requireRialtoToken() route with a DPoP-bound token through its DPoP handle', async () => {
      const tokens = await signIn();
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
      const bound = await bindAccessToken(t.store, tokens.access_token, jkt);
      const config = openIdClientConfig();
      const dpop = client.getDPoPHandle(config, keyPair);

      const response = await client.fetchProtectedResource(
        config,
        bound,
        new URL(`${baseUrl}/portfolio`),
        'GET',
        undefined,
        undefined,
        { DPoP: dpop },
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ user_id: decodeJwt(bound).user_id, bound_to: jkt });
      expect(await client.tokenIntrospection(config, bound)).toMatchObject({
        active: true,
        token_type: 'DPoP',
        cnf: { jkt },
      });

      // The same bound token without its proof is refused with the DPoP challenge.
      const asBearer = await client
        .fetchProtectedResource(config, bound, new URL(`${baseUrl}/portfolio`), 'GET')
        .catch((error: unknown) => error);
      expect(asBearer).toBeInstanceOf(client.WWWAuthenticateChallengeError);
      expect(asBearer).toMatchObject({
        status: 401,
        cause: [
          expect.objectContaining({
            scheme: 'dpop',
            parameters: expect.objectContaining({ error: 'invalid_token' }),
          }),
        ],
      });
    });
  });

  describe('oauth4webapi 3', () => {
    const oauthClient = (): oauth.Client => ({ client_id: org.orgId });

    it('introspects with introspectionRequest (client_secret_post) and revokes with revocationRequest', async () => {
      const tokens = await signIn();
      const as = authorizationServer();
      const auth = oauth.ClientSecretPost(org.apiKey);
      const introspected = await oauth.processIntrospectionResponse(
        as,
        oauthClient(),
        await oauth.introspectionRequest(as, oauthClient(), auth, tokens.refresh_token, insecure),
      );
      expect(introspected).toMatchObject({ active: true, token_type: 'refresh_token', org_id: org.orgId });

      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, oauthClient(), auth, tokens.refresh_token, insecure),
      );
      const after = await oauth.processIntrospectionResponse(
        as,
        oauthClient(),
        await oauth.introspectionRequest(as, oauthClient(), auth, tokens.refresh_token, insecure),
      );
      expect(after).toEqual({ active: false });
    });

    it('reports invalid_client with the exchange code for a wrong client_secret_post secret', async () => {
      const as = authorizationServer();
      const response = await oauth.introspectionRequest(
        as,
        oauthClient(),
        oauth.ClientSecretPost('rialto_ak_wrong'),
        'any-token',
        insecure,
      );
      const failure = await oauth
        .processIntrospectionResponse(as, oauthClient(), response)
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(oauth.ResponseBodyError);
      expect(failure).toMatchObject({
        status: 401,
        error: 'invalid_client',
        cause: expect.objectContaining({ rialto_error: 'invalid_api_key' }),
      });
    });

    it('calls a requireRialtoToken() route with protectedResourceRequest and a DPoP handle; a replayed proof is refused', async () => {
      const tokens = await signIn();
      const keyPair = await oauth.generateKeyPair('ES256');
      const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
      const bound = await bindAccessToken(t.store, tokens.access_token, jkt);
      const dpop = oauth.DPoP(oauthClient(), keyPair);
      const url = new URL(`${baseUrl}/portfolio`);

      const response = await oauth.protectedResourceRequest(bound, 'GET', url, undefined, undefined, {
        DPoP: dpop,
        ...insecure,
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ user_id: decodeJwt(bound).user_id, bound_to: jkt });

      // Capture a proof the handle makes, then send it twice.
      const proofs: string[] = [];
      await oauth.protectedResourceRequest(bound, 'GET', url, undefined, undefined, {
        DPoP: dpop,
        ...insecure,
        [oauth.customFetch]: async (input, init) => {
          proofs.push(new Headers(init?.headers).get('dpop') as string);
          return fetch(input, init);
        },
      });
      const replayed = await fetch(url, {
        headers: { authorization: `DPoP ${bound}`, dpop: proofs[0] as string },
      });
      expect(replayed.status).toBe(401);
      expect(await replayed.json()).toEqual({
        error: 'invalid_dpop_proof',
        error_description: 'The DPoP proof was already used; make a new proof for each request.',
      });
      expect(replayed.headers.get('www-authenticate')).toMatch(
        /^DPoP realm="rialto", error="invalid_dpop_proof"/,
      );
    });
  });
});
