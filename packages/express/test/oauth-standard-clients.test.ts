import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RialtoErrorCode } from '@rialto-exchange/core';
import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import express from 'express';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCHANGE_ERROR_MAPPING } from '../../core/src/oauth/error-mapping.js';
import { oauthStatusOf } from '../../core/src/oauth/oauth-error.js';
import { rialtoAuthorizationServerMetadataHandler } from '../src/index.js';
import { createTestApp, registerOrganization, type TestApp } from './helpers.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * openid-client 6 and oauth4webapi 3, neither written here, against the Express router on a real
 * server and a real oidc-provider IdP: they discover the token endpoint from the service's
 * metadata, authenticate as the organization and parse its answers with their own checks.
 */
describe('standard OAuth clients at POST /oauth/token', () => {
  let idp: DevIdp;
  let t: TestApp;
  let server: Server;
  let issuer: string;
  let orgId: string;
  let apiKey: string;

  beforeAll(async () => {
    idp = await startDevIdp({ additionalClientIds: ['other-app', 'bound-later-app', 'issuer-removed-app'] });
    // The issuer is the server's own address, so the published endpoints and DPoP's htu are real.
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = createTestApp({ issuer, rateLimit: false });
    server.on('request', t.app);
    ({ orgId, apiKey } = await registerOrganization(t.app, {
      name: 'Acme Capital',
      issuer: idp.issuer,
      audience: ['primary-issuance'],
      client_ids: [idp.clientId],
    }));
  });

  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await idp.close();
  });

  const idToken = (email = 'ada@example.com') => idp.getIdToken({ email });

  async function openidClient(auth: client.ClientAuth, clientId = orgId): Promise<client.Configuration> {
    return client.discovery(new URL(issuer), clientId, undefined, auth, {
      execute: [client.allowInsecureRequests],
    });
  }

  /** A new organization whose IdP app is `appClientId`, signed in once through jwt-bearer by openid-client. */
  async function newOrganizationSession(name: string, appClientId: string) {
    const org = await registerOrganization(t.app, { name, issuer: idp.issuer, client_ids: [appClientId] });
    const config = await openidClient(client.ClientSecretBasic(org.apiKey), org.orgId);
    const tokens = await client.genericGrantRequest(config, JWT_BEARER, {
      assertion: await idp.getIdToken({ email: 'ada@example.com' }, { clientId: appClientId }),
    });
    return { orgId: org.orgId, config, refreshToken: tokens.refresh_token as string };
  }

  async function authorizationServer(): Promise<oauth.AuthorizationServer> {
    const url = new URL(issuer);
    const response = await oauth.discoveryRequest(url, {
      algorithm: 'oauth2',
      [oauth.allowInsecureRequests]: true,
    });
    return oauth.processDiscoveryResponse(url, response);
  }

  describe('openid-client 6', () => {
    it('exchanges an ID token (RFC 8693), narrowed by audience, then refreshes it', async () => {
      const config = await openidClient(client.ClientSecretBasic(apiKey));
      const tokens = await client.genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: await idToken(),
        subject_token_type: ID_TOKEN_TYPE,
        audience: 'identity',
      });
      expect(tokens).toMatchObject({
        token_type: 'bearer',
        issued_token_type: ACCESS_TOKEN_TYPE,
        scope: 'openid email profile aud:identity',
      });
      expect(decodeJwt(tokens.access_token)).toMatchObject({ iss: issuer, org_id: orgId, aud: ['identity'] });

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
      expect(refreshed.scope).toBe('openid email profile aud:identity');
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    });

    it('takes the ID token as a jwt-bearer assertion (RFC 7523), with client_secret_post', async () => {
      const config = await openidClient(client.ClientSecretPost(apiKey));
      const tokens = await client.genericGrantRequest(config, JWT_BEARER, { assertion: await idToken() });
      expect(tokens.issued_token_type).toBeUndefined();
      expect(tokens.scope).toBe('openid email profile aud:identity aud:primary-issuance');
    });

    it('binds the tokens to its DPoP key, and refreshes only with a proof of that key', async () => {
      const config = await openidClient(client.ClientSecretBasic(apiKey));
      const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
      const tokens = await client.genericGrantRequest(
        config,
        TOKEN_EXCHANGE,
        { subject_token: await idToken(), subject_token_type: ID_TOKEN_TYPE },
        { DPoP },
      );
      expect(tokens.token_type).toBe('dpop');
      const { cnf } = decodeJwt(tokens.access_token) as { cnf?: { jkt: string } };
      expect(cnf?.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);

      const otherKey = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
      const refused = await client
        .refreshTokenGrant(config, tokens.refresh_token as string, undefined, { DPoP: otherKey })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(client.ResponseBodyError);
      expect((refused as client.ResponseBodyError).error).toBe('invalid_dpop_proof');

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string, undefined, {
        DPoP,
      });
      expect(refreshed.token_type).toBe('dpop');
      expect((decodeJwt(refreshed.access_token) as { cnf?: { jkt: string } }).cnf).toEqual(cnf);
    });

    it('refreshes no unbound session once the organization requires DPoP, and resumes it when lifted', async () => {
      const later = await newOrganizationSession('Bound later', 'bound-later-app');
      await t.router.exchange.organizations.setDpopBoundAccessTokens(later.orgId, true);
      const refused = await client
        .refreshTokenGrant(later.config, later.refreshToken)
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(client.ResponseBodyError);
      expect(refused).toMatchObject({ status: 400, error: 'invalid_request' });
      expect((refused as client.ResponseBodyError).error_description).toMatch(/must be DPoP-bound/);

      await t.router.exchange.organizations.setDpopBoundAccessTokens(later.orgId, false);
      const resumed = await client.refreshTokenGrant(later.config, later.refreshToken);
      expect(resumed.token_type).toBe('bearer');
    });

    it('sees a session ended with its issuer registration refused at refresh and inactive at introspection', async () => {
      const {
        orgId: removedOrgId,
        config,
        refreshToken,
      } = await newOrganizationSession('Issuer removed', 'issuer-removed-app');
      expect((await client.tokenIntrospection(config, refreshToken)).active).toBe(true);
      const [registration] = await t.router.exchange.issuers.list(removedOrgId);
      await t.router.exchange.issuers.remove(removedOrgId, registration?.registrationId ?? '', {
        endSessions: true,
      });

      expect(await client.tokenIntrospection(config, refreshToken)).toEqual({ active: false });
      const refused = await client.refreshTokenGrant(config, refreshToken).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(client.ResponseBodyError);
      expect(refused).toMatchObject({ status: 400, error: 'invalid_grant' });
    });

    it('reports the mapped error of a refused token', async () => {
      const config = await openidClient(client.ClientSecretBasic(apiKey));
      const stale = await client
        .genericGrantRequest(config, JWT_BEARER, { assertion: `${(await idToken()).slice(0, -8)}AAAAAAAA` })
        .catch((error: unknown) => error);
      expect(stale).toBeInstanceOf(client.ResponseBodyError);
      expect(stale).toMatchObject({
        status: 400,
        error: 'invalid_grant',
        cause: { rialto_error: 'invalid_signature' },
      });
    });
  });

  describe('oauth4webapi 3', () => {
    it('exchanges an ID token, then refreshes it', async () => {
      const as = await authorizationServer();
      const oauthClient: oauth.Client = { client_id: orgId };
      const auth = oauth.ClientSecretPost(apiKey);
      const options = { [oauth.allowInsecureRequests]: true };
      const response = await oauth.genericTokenEndpointRequest(
        as,
        oauthClient,
        auth,
        TOKEN_EXCHANGE,
        { subject_token: await idToken(), subject_token_type: ID_TOKEN_TYPE },
        options,
      );
      const tokens = await oauth.processGenericTokenEndpointResponse(as, oauthClient, response);
      expect(tokens).toMatchObject({ token_type: 'bearer', issued_token_type: ACCESS_TOKEN_TYPE });

      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        oauthClient,
        await oauth.refreshTokenGrantRequest(as, oauthClient, auth, tokens.refresh_token as string, options),
      );
      expect(refreshed.access_token).not.toBe(tokens.access_token);
    });

    it('takes a jwt-bearer assertion bound to its DPoP key', async () => {
      const as = await authorizationServer();
      const oauthClient: oauth.Client = { client_id: orgId };
      const DPoP = oauth.DPoP(oauthClient, await oauth.generateKeyPair('ES256'));
      const response = await oauth.genericTokenEndpointRequest(
        as,
        oauthClient,
        oauth.ClientSecretBasic(apiKey),
        JWT_BEARER,
        { assertion: await idToken() },
        { DPoP, [oauth.allowInsecureRequests]: true },
      );
      const tokens = await oauth.processGenericTokenEndpointResponse(as, oauthClient, response);
      expect(tokens.token_type).toBe('dpop');
    });

    it('reports invalid_client for a wrong secret, and the Basic challenge', async () => {
      const as = await authorizationServer();
      const oauthClient: oauth.Client = { client_id: orgId };
      const response = await oauth.genericTokenEndpointRequest(
        as,
        oauthClient,
        oauth.ClientSecretBasic(`${apiKey.slice(0, -4)}AAAA`),
        JWT_BEARER,
        { assertion: await idToken() },
        { [oauth.allowInsecureRequests]: true },
      );
      const outcome = await oauth
        .processGenericTokenEndpointResponse(as, oauthClient, response)
        .catch((error: unknown) => error);
      expect(outcome).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
      expect((outcome as oauth.WWWAuthenticateChallengeError).cause[0]).toMatchObject({
        scheme: 'basic',
        parameters: { error: 'invalid_client' },
      });
    });
  });

  /**
   * Rows of the one mapping table (EXCHANGE_ERROR_MAPPING) as openid-client reports them: each
   * expected status and error read from the table, the exchange's code from `rialto_error`.
   */
  describe('the error mapping, through openid-client', () => {
    type Row = [RialtoErrorCode, () => Promise<unknown>];
    const jwtBearer = async (auth: client.ClientAuth, assertion: string, clientId = orgId) => {
      return client.genericGrantRequest(await openidClient(auth, clientId), JWT_BEARER, { assertion });
    };
    const rows: Row[] = [
      [
        'invalid_api_key',
        async () => jwtBearer(client.ClientSecretPost(`${apiKey.slice(0, -4)}AAAA`), await idToken()),
      ],
      ['invalid_token', async () => jwtBearer(client.ClientSecretBasic(apiKey), 'not.a-token')],
      [
        'invalid_signature',
        async () => jwtBearer(client.ClientSecretBasic(apiKey), `${(await idToken()).slice(0, -8)}AAAAAAAA`),
      ],
      [
        'invalid_audience',
        async () =>
          jwtBearer(
            client.ClientSecretBasic(apiKey),
            await idp.getIdToken({ email: 'x@example.com' }, { clientId: 'other-app' }),
          ),
      ],
      [
        'org_mismatch',
        async () => {
          const other = await registerOrganization(t.app, {
            name: 'Other',
            issuer: 'https://other-idp.example.com',
          });
          return jwtBearer(client.ClientSecretBasic(other.apiKey), await idToken(), other.orgId);
        },
      ],
      [
        'discovery_failed',
        async () => {
          const gone = await startDevIdp({ clientId: 'gone-app' });
          const registered = await registerOrganization(t.app, {
            name: 'Gone',
            issuer: gone.issuer,
            client_ids: ['gone-app'],
          });
          const assertion = await gone.getIdToken({ email: 'gone@example.com' });
          await gone.close();
          return jwtBearer(client.ClientSecretBasic(registered.apiKey), assertion, registered.orgId);
        },
      ],
      [
        'organization_suspended',
        async () => {
          const suspended = await registerOrganization(t.app, {
            name: 'Suspended',
            issuer: idp.issuer,
            client_ids: ['suspended-app'],
          });
          await t.router.exchange.organizations.suspend(suspended.orgId);
          return jwtBearer(client.ClientSecretBasic(suspended.apiKey), await idToken(), suspended.orgId);
        },
      ],
      [
        'invalid_grant',
        async () => client.refreshTokenGrant(await openidClient(client.ClientSecretBasic(apiKey)), 'a.b.c'),
      ],
    ];

    it.each(rows)('reports %s as the table maps it', async (code, call) => {
      const mapping: { error: string; status?: number } = EXCHANGE_ERROR_MAPPING[code];
      const outcome = await call().catch((error: unknown) => error);
      const body = (outcome as { cause?: unknown }).cause;
      if (outcome instanceof client.WWWAuthenticateChallengeError) {
        // A failed Basic authentication: the client reports the challenge; the body is the same.
        expect(mapping.error).toBe('invalid_client');
        return;
      }
      const expected = {
        status: mapping.status ?? oauthStatusOf(mapping.error as never),
        error: mapping.error,
        rialto_error: code,
      };
      if (body instanceof Response) {
        // openid-client parses the error bodies of 4xx answers only; for a 5xx it hands over the response.
        const parsed = (await body.json()) as { error: string; rialto_error: string };
        expect({ status: body.status, error: parsed.error, rialto_error: parsed.rialto_error }).toEqual(
          expected,
        );
        expect(body.headers.get('retry-after')).toMatch(/^\d+$/);
        return;
      }
      expect(outcome).toBeInstanceOf(client.ResponseBodyError);
      expect({
        status: (outcome as client.ResponseBodyError).status,
        error: (outcome as client.ResponseBodyError).error,
        rialto_error: (body as { rialto_error?: string }).rialto_error,
      }).toEqual(expected);
    });
  });

  it('publishes the RFC 8414 metadata at the well-known locations, and for an issuer with a path at the host root', async () => {
    const metadata = await request(t.app).get('/.well-known/oauth-authorization-server');
    expect(metadata.status).toBe(200);
    expect(metadata.body).toMatchObject({
      issuer,
      token_endpoint: `${issuer}/oauth/token`,
      revocation_endpoint: `${issuer}/oauth/revoke`,
      introspection_endpoint: `${issuer}/oauth/introspect`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      grant_types_supported: [TOKEN_EXCHANGE, JWT_BEARER, 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
    });
    expect(metadata.body.dpop_signing_alg_values_supported).toContain('ES256');
    const openid = await request(t.app).get('/.well-known/openid-configuration');
    expect(openid.body).toMatchObject(metadata.body);

    const host = express();
    const pathed = createTestApp({ issuer: 'https://api.example.com/auth' });
    host.use('/auth', pathed.app);
    host.get(
      pathed.router.exchange.authorizationServerMetadata.path,
      rialtoAuthorizationServerMetadataHandler(pathed.router),
    );
    const atRoot = await request(host).get('/.well-known/oauth-authorization-server/auth');
    expect(atRoot.status).toBe(200);
    expect(atRoot.body).toMatchObject({
      issuer: 'https://api.example.com/auth',
      token_endpoint: 'https://api.example.com/auth/oauth/token',
    });
  });
});
