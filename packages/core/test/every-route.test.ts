import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenApiDocument } from '@rialto-exchange/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposableStore } from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, REDIS_URL } from '../../storage-adapters/test/services.js';
import { startTcpProxy } from '../../storage-adapters/test/tcp-proxy.js';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  startLocalIssuer,
} from './helpers.js';
import { createWebhook, partnerApp } from './webhook-fixtures.js';

/**
 * What every route of the OpenAPI document does alike, run over the document itself so a new route
 * is covered the day it is added: the binding's body limits, anonymous callers, a suspended
 * organization's API key and admin routes with no admin configured. Each answer is also validated
 * against the document by the conformance check `createTestApp` mounts.
 */

interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  template: string;
  operationId: string;
  security: Array<Record<string, unknown>>;
  responses: Record<string, unknown>;
  requestBody?: { content: Record<string, unknown> };
}

const document = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'openapi.json'), 'utf8'),
) as OpenApiDocument;

const operations: Operation[] = Object.entries(
  document.paths as Record<string, Record<string, Omit<Operation, 'method' | 'template'>>>,
).flatMap(([template, byMethod]) =>
  Object.entries(byMethod).map(([method, operation]) => ({
    ...operation,
    method: method as Operation['method'],
    template,
  })),
);

const accepts = (operation: Operation, credential: string) =>
  operation.security.some((requirement) => credential in requirement);
const isPublic = (operation: Operation) =>
  operation.security.length === 0 ||
  operation.security.some((requirement) => Object.keys(requirement).length === 0);
// The OAuth endpoints take form bodies and answer OAuth errors (their own tests: oauth-*.test.ts).
const isOAuthEndpoint = (operation: Operation) =>
  'application/x-www-form-urlencoded' in (operation.requestBody?.content ?? {});
const name = (operation: Operation) => `${operation.method.toUpperCase()} ${operation.template}`;
const pathOf = (operation: Operation, ids: Record<string, string> = {}) =>
  operation.template.replace(/\{([a-z_]+)\}/g, (_, param: string) => ids[param] ?? randomUUID());

/** A form each OAuth endpoint reads as far as client authentication: a grant for the token endpoint. */
function oauthForm(operation: Operation): string {
  return operation.operationId === 'oauthToken'
    ? 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x'
    : 'token=x';
}

describe('every documented route', () => {
  it.each(operations.map((operation) => [name(operation), operation] as const))(
    '%s refuses a compressed body with 415 and an oversize one with 413, before anything else',
    async (_, operation) => {
      const { app } = createTestApp({ maxBodyBytes: 64 });
      const compressed = await request(app)
        [operation.method](pathOf(operation))
        .set('content-type', 'application/json')
        .set('content-encoding', 'gzip')
        .send('{}');
      expectFailsWith(compressed, 415, 'unsupported_media_type');
      const oversize = await request(app)
        [operation.method](pathOf(operation))
        .set('content-type', 'application/json')
        .send(JSON.stringify({ padding: 'x'.repeat(100) }));
      expectFailsWith(oversize, 413, 'request_too_large');
    },
  );

  const protectedOperations = operations.filter(
    (operation) => !isPublic(operation) && !isOAuthEndpoint(operation),
  );

  it.each(protectedOperations.map((operation) => [name(operation), operation] as const))(
    '%s refuses an anonymous caller with 401 and a challenge',
    async (_, operation) => {
      const { app, store } = createTestApp();
      store.resetWrites();
      const response = await request(app)[operation.method](pathOf(operation)).send({});
      expect(['missing_api_key', 'unauthorized']).toContain(response.body.error);
      expectFailsWith(response, 401, response.body.error);
      expect(store.writes).toEqual([]);
    },
  );

  it.each(protectedOperations.map((operation) => [name(operation), operation] as const))(
    '%s counts a refused credential against the per-address limit, then answers 429 before looking at one',
    async (_, operation) => {
      const { app, store } = createTestApp({ rateLimit: { perIp: { limit: 1, windowSeconds: 60 } } });
      const takesBearer = accepts(operation, 'adminToken') || accepts(operation, 'accessToken');
      const guess = (call: ReturnType<ReturnType<typeof request>['get']>) =>
        takesBearer ? call.set('authorization', 'Bearer a-guess') : call.set('x-api-key', 'a-guess');
      const first = await guess(request(app)[operation.method](pathOf(operation))).send({});
      expect(first.status).toBe(401);
      store.resetWrites();
      const second = await guess(request(app)[operation.method](pathOf(operation))).send({});
      expectFailsWith(second, 429, 'rate_limited', /client address/);
      expect(second.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(store.writes).toEqual([]);
    },
  );

  const adminOnly = operations.filter(
    (operation) => operation.security.length === 1 && accepts(operation, 'adminToken'),
  );

  it.each(adminOnly.map((operation) => [name(operation), operation] as const))(
    '%s answers 404 when no admin credential is configured, as if it did not exist',
    async (_, operation) => {
      const { app } = createTestApp({ adminToken: undefined });
      const response = await request(app)
        [operation.method](pathOf(operation))
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({});
      expectFailsWith(response, 404, 'not_found');
    },
  );

  it('POST /identity/users with admin credentials answers 404 for an organization that does not exist', async () => {
    const { app, store } = createTestApp();
    store.resetWrites();
    const response = await request(app)
      .post('/identity/users')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ org_id: randomUUID(), email: 'someone@example.com' });
    expectFailsWith(response, 404, 'not_found', 'No such organization.');
    expect(store.writes).toEqual([]);
  });

  it('POST /identity/auth/revoke counts against the per-address limit like the other token routes', async () => {
    const { app } = createTestApp({ rateLimit: { perIp: { limit: 1, windowSeconds: 60 } } });
    const first = await request(app).post('/identity/auth/revoke').send({ refresh_token: 'not-a-token' });
    expect(first.status).toBe(200);
    const second = await request(app).post('/identity/auth/revoke').send({ refresh_token: 'not-a-token' });
    expectFailsWith(second, 429, 'rate_limited');
    expect(second.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  });

  describe("a suspended organization's credentials", () => {
    let idp: LocalIssuer;
    beforeAll(async () => {
      idp = await startLocalIssuer();
    });
    afterAll(async () => {
      await idp.close();
    });

    it('are refused with 403 organization_suspended on every route that takes them', async () => {
      const partner = await partnerApp(idp);
      const { app } = partner.t;
      const suspended = await request(app)
        .post(`/identity/organizations/${partner.orgId}/suspend`)
        .set('authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(suspended.status).toBe(200);
      const ids = { org_id: partner.orgId, user_id: partner.userId };
      for (const operation of operations.filter((candidate) => accepts(candidate, 'apiKey'))) {
        const byKey = await request(app)
          [operation.method](pathOf(operation, ids))
          .set('x-api-key', partner.apiKey)
          .send(isOAuthEndpoint(operation) ? oauthForm(operation) : {});
        const refusal = { route: name(operation), status: byKey.status, error: byKey.body.error };
        // The OAuth endpoints say it as RFC 6749 does, with the exchange's code beside it.
        if (isOAuthEndpoint(operation)) {
          expect({ ...refusal, rialto_error: byKey.body.rialto_error }).toEqual({
            route: name(operation),
            status: 400,
            error: 'unauthorized_client',
            rialto_error: 'organization_suspended',
          });
          continue;
        }
        expect(refusal).toEqual({ route: name(operation), status: 403, error: 'organization_suspended' });
      }
    });
  });

  describe('when the store cannot be reached', async () => {
    if (!(await isServiceUp('redis', REDIS_URL))) return;

    it('answers 503 temporarily_unavailable with Retry-After wherever the document says it may', async () => {
      const idp = await startLocalIssuer();
      const proxy = await startTcpProxy(REDIS_URL);
      const backing = disposableStore('redis', { via: proxy.url, timeoutMs: 500 });
      try {
        const partner = await partnerApp(idp, { store: backing.store });
        const { app } = partner.t;
        const webhook = await createWebhook(partner, {
          url: 'http://127.0.0.1:9/hook',
          eventTypes: ['user.created'],
        });
        const issuers = await request(app)
          .get(`/identity/organizations/${partner.orgId}/issuers`)
          .set('authorization', `Bearer ${ADMIN_TOKEN}`);
        const idToken = await idp.sign(
          idTokenClaims(idp.issuer, { sub: 'outage', email: 'outage@example.com' }),
        );
        const ids = {
          org_id: partner.orgId,
          user_id: partner.userId,
          webhook_id: webhook.id,
          issuer_id: issuers.body.issuers[0].issuer_id as string,
          api_key_id: randomUUID(),
        };
        const bodies: Record<string, unknown> = {
          exchangeToken: { token: idToken },
          explainExchange: { token: idToken },
          refreshTokens: { refresh_token: partner.refreshToken },
          revokeRefreshToken: { refresh_token: partner.refreshToken },
          registerOrganization: { name: 'Outage', issuer: 'https://outage.example.com' },
          setOrganizationProvisioning: { provisioning: 'create' },
          addIssuer: { issuer: 'https://another.example.com' },
          updateIssuerPolicy: { condition: 'claims.hd == "outage.example"' },
          setOrganizationAudience: { audience: ['identity'] },
          createUser: { email: 'new@example.com' },
          updateUserVerification: { onboarding_completed: true },
          setUserRole: { role: 'member' },
          createWebhook: { url: 'http://127.0.0.1:9/other', eventTypes: ['user.created'] },
          setWebhookEventTypes: { eventTypes: ['user.created'] },
          oauthRevoke: `token=${partner.refreshToken}`,
          oauthIntrospect: `token=${partner.refreshToken}`,
          // A form, as RFC 6749 §3.2 requires; the client authenticates with X-API-Key, set below.
          oauthToken: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
            assertion: idToken,
          }).toString(),
        };
        proxy.refuse();
        const answers: Array<{ route: string; status: number; error: unknown }> = [];
        for (const operation of operations.filter((candidate) => '503' in candidate.responses)) {
          // Readiness answers its own 503 (tested in health.test.ts); the JWKS is served from keys
          // already loaded, and answers 503 only on an instance that never reached the store.
          if (operation.operationId === 'getReadiness' || operation.operationId === 'getJwks') continue;
          const call = request(app)[operation.method](pathOf(operation, ids));
          if (accepts(operation, 'adminToken') && !accepts(operation, 'apiKey')) {
            call.set('authorization', `Bearer ${ADMIN_TOKEN}`);
          } else if (accepts(operation, 'apiKey')) {
            call.set('x-api-key', partner.apiKey);
          }
          const response = await call.send((bodies[operation.operationId] ?? {}) as object | string);
          answers.push({ route: name(operation), status: response.status, error: response.body.error });
          if (response.status === 503) expect(response.headers['retry-after']).toMatch(/^\d+$/);
        }
        expect(answers.filter(({ status }) => status !== 503)).toEqual([]);
      } finally {
        proxy.restore();
        await backing.dispose();
        await proxy.close();
        await idp.close();
      }
    });
  });
});
