import { createPrivateKey, sign as cryptoSign, type JsonWebKey } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createFetchHandler,
  createRialtoExchange,
  type ErrorBody,
  type FetchHandler,
  type FindOrCreateUserInput,
  type RialtoErrorCode,
  type RialtoExchange,
  type RialtoExchangeOptions,
  type Store,
} from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { exportJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import { expect } from 'vitest';
import { type FetchTarget, request } from './client.js';
import { openApiConformance } from './openapi-conformance.js';
import { testRsaKeyPair, withTestAccessKey } from './test-keys.js';

/**
 * Fixtures shared by the tests of every package (a local issuer, a recording store, token claims,
 * the error assertion), and the test app of core's behaviour tests: the exchange behind its fetch
 * binding, called in process.
 */

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const SERVICE_ISSUER = 'http://localhost:3000';

/** Store methods that change state; a rejected request must call none of them. */
const WRITE_METHODS = [
  'createOrganization',
  'updateOrganization',
  'addIssuerRegistration',
  'replaceIssuerPolicy',
  'removeIssuerRegistration',
  'addApiKey',
  'revokeApiKey',
  'findOrCreateUser',
  'saveRefreshToken',
  'rotateRefreshToken',
  'revokeRefreshTokenFamily',
  'consumeOnce',
  'updateUserVerification',
  'setUserRole',
  'createUser',
  'deleteUser',
  'deleteOrganization',
  'createWebhookSubscription',
  'updateWebhookSubscription',
  'deleteWebhookSubscription',
  'enqueueWebhookEvents',
  'addWebhookDelivery',
  'redeliverWebhookDelivery',
  'saveConsoleSession',
  'deleteConsoleSession',
] as const;

export interface RecordingStore extends Store {
  /** Names of write methods called since the last `resetWrites()`. */
  writes: string[];
  resetWrites(): void;
  countUsers(): Promise<number>;
}

/** Wraps a memory store, recording every write so tests can assert a failed request wrote nothing. */
export function recordingStore(inner: Store = memoryStore()): RecordingStore {
  const writes: string[] = [];
  const userIds = new Set<string>();
  const wrapped = { ...inner } as Store;
  for (const method of WRITE_METHODS) {
    const original = inner[method].bind(inner) as (...args: unknown[]) => Promise<unknown>;
    (wrapped as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      if (!isReadOnlyUserLookup(method, args[0])) writes.push(method);
      const result = await original(...args);
      if (method === 'findOrCreateUser') {
        const outcome = result as { outcome: string; user?: { userId: string } };
        if (outcome.user) userIds.add(outcome.user.userId);
      }
      return result;
    };
  }
  return Object.assign(wrapped, {
    writes,
    resetWrites: () => {
      writes.length = 0;
    },
    countUsers: async () => userIds.size,
  });
}

/**
 * `findOrCreateUser` that may neither link nor create writes nothing, whatever it finds (the Store
 * contract, pinned by the conformance suite): the token debugger looks users up that way.
 */
function isReadOnlyUserLookup(method: string, input: unknown): boolean {
  const lookup = input as Partial<FindOrCreateUserInput> | undefined;
  return method === 'findOrCreateUser' && lookup?.mayLinkByEmail === false && lookup.mayCreate === false;
}

export interface TestApp {
  /** The exchange mounted at the root of a fetch-style host that answers 404 to what it passes on. */
  app: FetchTarget;
  /** The mounted exchange, as the Express binding's router exposes it. */
  router: { exchange: RialtoExchange; handleFetch: FetchHandler; close(): Promise<void> };
  store: RecordingStore;
}

/** The address the test app reports for every request, as a dual-stack Node server reports IPv4 clients. */
export const CLIENT_ADDRESS = '::ffff:127.0.0.1';

/**
 * The exchange behind its fetch binding, with an admin token and loopback issuers allowed (`http:`
 * and private addresses: the local issuers listen on 127.0.0.1). Requests run in process through
 * `request(t.app)`; no server listens.
 */
export function createTestApp(
  options: Partial<RialtoExchangeOptions> & { store?: RecordingStore } = {},
): TestApp {
  const { store = defaultTestStore(options), ...rest } = options;
  const exchange = createRialtoExchange({
    issuer: SERVICE_ISSUER,
    adminToken: ADMIN_TOKEN,
    allowInsecureIssuers: true,
    allowPrivateIssuers: true,
    ...rest,
    store,
  });
  const handleFetch = createFetchHandler(exchange);
  // Every answer the exchange gives in a test is also checked against its OpenAPI document.
  const checkConformance = openApiConformance(exchange);
  const app: FetchTarget = {
    async fetch(incoming) {
      const response =
        (await handleFetch(incoming, { clientAddress: CLIENT_ADDRESS })) ??
        new Response('Not Found', { status: 404, headers: { 'content-type': 'text/plain' } });
      const copy = response.clone();
      await checkConformance({
        method: incoming.method,
        path: new URL(incoming.url).pathname,
        status: copy.status,
        headers: Object.fromEntries(copy.headers),
        body: await copy.text(),
      });
      return response;
    },
  };
  return { app, router: { exchange, handleFetch, close: () => exchange.close() }, store };
}

/**
 * A recording memory store, holding an RS256 access-token key from the tests' pool unless the
 * options choose the key or another algorithm (then the exchange makes or takes its own, as in
 * production).
 */
export function defaultTestStore(options: Partial<RialtoExchangeOptions>): RecordingStore {
  const choosesKey =
    options.accessTokenKey !== undefined ||
    (options.accessTokenAlgorithm !== undefined && options.accessTokenAlgorithm !== 'RS256');
  return recordingStore(choosesKey ? memoryStore() : withTestAccessKey(memoryStore()));
}

/** An answer as the test clients give it (this package's `request`, supertest). */
export interface TestAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: supertest types headers and body as any
  headers: Record<string, any>;
  body: unknown;
}

/** Asserts a JSON error response: status, exact body, no caching. */
export function expectFailsWith(
  response: TestAnswer,
  status: number,
  error: RialtoErrorCode,
  description?: string | RegExp,
): void {
  expect({ status: response.status, error: (response.body as ErrorBody).error }).toEqual({ status, error });
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(response.headers['cache-control']).toBe('no-store');
  const body = response.body as ErrorBody;
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(typeof body.error_description).toBe('string');
  if (description !== undefined) expect(body.error_description).toMatch(description);
  if (status === 401) expect(response.headers['www-authenticate']).toMatch(/realm="rialto"/);
}

/** What a local issuer does when asked for its documents. */
export type IssuerBehaviour =
  | 'ok'
  | 'down'
  | 'server-error'
  | 'reset'
  | 'html'
  | 'hang'
  | 'oversize'
  | 'wrong-issuer'
  | 'not-found';

export interface LocalIssuer {
  issuer: string;
  kid: string;
  privateJwk: JWK;
  counts: { discovery: number; jwks: number; other: number };
  /** Requests received under `hang` and not answered yet. */
  held: number;
  behaviour: IssuerBehaviour;
  /** Extra keys published in the JWKS, e.g. to test key rotation. */
  extraPublicKeys: JWK[];
  sign(claims: JWTPayload, options?: SignOptions): Promise<string>;
  /** Signs exactly the given header and payload bytes with RS256, for tokens jose refuses to build. */
  signRaw(header: Record<string, unknown>, payload: string): string;
  close(): Promise<void>;
}

export interface SignOptions {
  alg?: string;
  kid?: string;
  key?: Parameters<SignJWT['sign']>[0];
  header?: Record<string, unknown>;
}

/**
 * A minimal OpenID provider on 127.0.0.1:0 that serves discovery and JWKS and signs tokens
 * directly, with switchable failure modes. For error paths; the happy path also runs against
 * the real oidc-provider (see packages/express/test/exchange-e2e.test.ts).
 */
export async function startLocalIssuer(options: { trailingSlash?: boolean } = {}): Promise<LocalIssuer> {
  const { privateKey, publicKey } = await testRsaKeyPair();
  const kid = `kid-${Math.random().toString(36).slice(2, 10)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const privateKeyObject = createPrivateKey({
    key: (await exportJWK(privateKey)) as JsonWebKey,
    format: 'jwk',
  });
  const sockets = new Set<import('node:net').Socket>();
  const state = {
    counts: { discovery: 0, jwks: 0, other: 0 },
    held: 0,
    behaviour: 'ok' as IssuerBehaviour,
    extraPublicKeys: [] as JWK[],
  };
  let issuer = '';

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/.well-known/openid-configuration') state.counts.discovery++;
    else if (path === '/jwks') state.counts.jwks++;
    else state.counts.other++;
    switch (state.behaviour) {
      case 'down':
        res.writeHead(503).end('unavailable');
        return;
      case 'server-error':
        res.writeHead(500).end('internal error');
        return;
      case 'reset':
        // The connection drops before any answer, as when the IdP's process dies mid-request.
        req.socket.destroy();
        return;
      case 'not-found':
        res.writeHead(404).end();
        return;
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome</body></html>');
        return;
      case 'hang':
        state.held++;
        res.on('close', () => state.held--);
        return;
      case 'oversize':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, padding: 'x'.repeat(600 * 1024) }));
        return;
    }
    if (path === '/.well-known/openid-configuration') {
      const announced = state.behaviour === 'wrong-issuer' ? 'https://someone-else.example' : issuer;
      sendJson(res, { issuer: announced, jwks_uri: `${baseUrl}/jwks` });
    } else if (path === '/jwks') {
      sendJson(res, { keys: [publicJwk, ...state.extraPublicKeys] });
    } else {
      res.writeHead(404).end();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = options.trailingSlash ? `${baseUrl}/` : baseUrl;

  return Object.assign(state, {
    issuer,
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid },
    async sign(claims: JWTPayload, signOptions: SignOptions = {}) {
      const alg = signOptions.alg ?? 'RS256';
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: signOptions.kid ?? kid, typ: 'JWT', ...signOptions.header })
        .sign(signOptions.key ?? privateKey);
    },
    signRaw(header: Record<string, unknown>, payload: string) {
      const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
      const signature = cryptoSign('sha256', Buffer.from(signingInput), privateKeyObject);
      return `${signingInput}.${signature.toString('base64url')}`;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  });
}

function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Standard ID-token claims for a user of `issuer`, valid for ten minutes. */
export function idTokenClaims(issuer: string, overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer,
    sub: 'user-123',
    aud: 'partner-app',
    email: 'ada@example.com',
    email_verified: true,
    iat: now,
    exp: now + 600,
    ...overrides,
  };
}

/** Registers an organization through the admin route. */
export async function registerOrganization(
  app: FetchTarget,
  body: Record<string, unknown>,
): Promise<{ orgId: string; apiKey: string }> {
  const response = await request(app)
    .post('/identity/organizations')
    .set('authorization', `Bearer ${ADMIN_TOKEN}`)
    .send(body);
  expect(response.status).toBe(201);
  return { orgId: response.body.org_id, apiKey: response.body.api_key };
}

/** POSTs an exchange with the given API key and body. */
export function exchange(app: FetchTarget, apiKey: string | undefined, body: unknown) {
  const call = request(app).post('/identity/auth/exchange').set('content-type', 'application/json');
  if (apiKey !== undefined) call.set('x-api-key', apiKey);
  return call.send(typeof body === 'string' ? body : JSON.stringify(body));
}
