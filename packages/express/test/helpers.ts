import type { OutgoingHttpHeaders } from 'node:http';
import type { RialtoExchange } from '@rialto-exchange/core';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import express4 from 'express4';
import request from 'supertest';
import { expect } from 'vitest';
import {
  ADMIN_TOKEN,
  defaultTestStore,
  type RecordingStore,
  SERVICE_ISSUER,
} from '../../core/test/helpers.js';
import { type ObservedResponse, openApiConformance } from '../../core/test/openapi-conformance.js';
import {
  type RialtoExchangeExpressOptions,
  type RialtoExchangeRouter,
  rialtoExchange,
} from '../src/index.js';

// The fixtures every package's tests share live with core's tests.
export {
  ADMIN_TOKEN,
  expectFailsWith,
  type IssuerBehaviour,
  idTokenClaims,
  type LocalIssuer,
  type RecordingStore,
  recordingStore,
  SERVICE_ISSUER,
  type SignOptions,
  startLocalIssuer,
} from '../../core/test/helpers.js';

export type ExpressFlavour = 'express5' | 'express4';

export interface TestApp {
  app: express.Express;
  router: RialtoExchangeRouter;
  store: RecordingStore;
}

/**
 * An Express app (5 or 4) with the exchange mounted at root, an admin token and loopback issuers
 * allowed (`http:` and private addresses: the local issuers listen on 127.0.0.1).
 */
export function createTestApp(
  options: RialtoExchangeExpressOptions & { flavour?: ExpressFlavour; store?: RecordingStore } = {},
): TestApp {
  const { flavour = 'express5', store = defaultTestStore(options), ...rest } = options;
  const app = (flavour === 'express4' ? express4() : express()) as express.Express;
  const router = rialtoExchange({
    issuer: SERVICE_ISSUER,
    adminToken: ADMIN_TOKEN,
    allowInsecureIssuers: true,
    allowPrivateIssuers: true,
    ...rest,
    store,
  });
  // Every answer the router gives in a test is also checked against its OpenAPI document.
  app.use(expressConformance(router.exchange));
  app.use(router);
  return { app, router, store };
}

/** Registers an organization through the admin route. */
export async function registerOrganization(
  app: express.Express,
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
export function exchange(app: express.Express, apiKey: string | undefined, body: unknown) {
  const call = request(app).post('/identity/auth/exchange').set('content-type', 'application/json');
  if (apiKey !== undefined) call.set('x-api-key', apiKey);
  return call.send(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Express middleware handing the router's answers to the OpenAPI check; other requests pass untouched. */
export function expressConformance(exchange: RialtoExchange): RequestHandler {
  const check = openApiConformance(exchange);
  return function checkOpenApiConformance(req: Request, res: Response, next: NextFunction) {
    if (!exchange.handlesPath(req.path)) {
      next();
      return;
    }
    const observed = recordResponse(req, res);
    res.on('finish', () => {
      void check(observed());
    });
    next();
  };
}

/** Captures status, headers and body as written, whichever way the binding writes them. */
function recordResponse(req: Request, res: Response): () => ObservedResponse {
  const { method, path } = req;
  const chunks: Buffer[] = [];
  let headedWith: OutgoingHttpHeaders = {};
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.writeHead = ((...args: unknown[]) => {
    const headers = args.find((arg) => typeof arg === 'object' && arg !== null && !Array.isArray(arg));
    if (headers) headedWith = headers as OutgoingHttpHeaders;
    return writeHead(...args);
  }) as Response['writeHead'];
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) chunks.push(Buffer.from(chunk));
    return end(...args);
  }) as Response['end'];
  return () => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...res.getHeaders(), ...headedWith })) {
      if (value !== undefined) headers[name.toLowerCase()] = String(value);
    }
    return { method, path, status: res.statusCode, headers, body: Buffer.concat(chunks).toString('utf8') };
  };
}
