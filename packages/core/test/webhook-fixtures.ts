import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Store } from '@rialto-exchange/core';
import { decodeJwt } from 'jose';
import { expect } from 'vitest';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  type RecordingStore,
  recordingStore,
  registerOrganization,
  type TestApp,
} from './helpers.js';

/** How a receiver answers: a status code, or `hang` (never answers). */
export type ReceiverBehaviour = number | 'hang';

export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent. */
  body: string;
}

export interface Receiver {
  url: string;
  received: ReceivedDelivery[];
  behaviour: ReceiverBehaviour;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1:0 that records every request and answers as told. */
export async function startReceiver(behaviour: ReceiverBehaviour = 204): Promise<Receiver> {
  const sockets = new Set<Socket>();
  const state = { received: [] as ReceivedDelivery[], behaviour };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      state.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (state.behaviour === 'hang') return;
      res
        .writeHead(state.behaviour, { 'content-type': 'text/plain' })
        .end(`answer ${state.behaviour} ${'x'.repeat(400)}`);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  });
}

/** Local receivers are http on loopback; the tests opt in to both, and run the worker by hand. */
export const LOCAL_WEBHOOKS = {
  allowInsecureUrls: true,
  allowLoopbackUrls: true,
  worker: false,
  timeoutMs: 500,
} as const;

export interface Partner {
  t: TestApp;
  orgId: string;
  apiKey: string;
  accessToken: string;
  refreshToken: string;
  userId: string;
}

/**
 * An exchange app with an org of `idp` and one exchanged user, made an org admin with the org's API
 * key, so its access token manages webhooks.
 */
export async function partnerApp(
  idp: LocalIssuer,
  options: { store?: RecordingStore | Store; sub?: string; webhooks?: object } = {},
): Promise<Partner> {
  const store = options.store === undefined ? recordingStore() : asRecording(options.store);
  const t = createTestApp({ store, webhooks: { ...LOCAL_WEBHOOKS, ...options.webhooks } });
  const { orgId, apiKey } = await registerOrganization(t.app, {
    name: `Org ${Math.random()}`,
    issuer: idp.issuer,
  });
  const sub = options.sub ?? `user-${Math.random().toString(36).slice(2)}`;
  const token = await idp.sign(idTokenClaims(idp.issuer, { sub, email: `${sub}@example.com` }));
  const first = await exchange(t.app, apiKey, { token });
  expect(first.status).toBe(200);
  const userId = decodeJwt(first.body.access_token).user_id as string;
  const promoted = await request(t.app)
    .put(`/identity/users/${userId}/role`)
    .set('x-api-key', apiKey)
    .send({ role: 'org_admin' });
  expect(promoted.status).toBe(200);
  // The role reaches the token's org_role claim on the next exchange.
  const response = await exchange(t.app, apiKey, { token });
  expect(decodeJwt(response.body.access_token).org_role).toBe('org_admin');
  return {
    t,
    orgId,
    apiKey,
    accessToken: response.body.access_token,
    refreshToken: response.body.refresh_token,
    userId,
  };
}

function asRecording(store: RecordingStore | Store): RecordingStore {
  return 'writes' in store ? store : recordingStore(store);
}

/** Creates a webhook through the API and returns its id and secret. */
export async function createWebhook(
  partner: Partner,
  body: Record<string, unknown>,
): Promise<{ id: string; secret: string }> {
  const response = await request(partner.t.app)
    .post('/notifications/webhooks')
    .set('authorization', `Bearer ${partner.accessToken}`)
    .send(body);
  expect(response.status).toBe(201);
  return { id: response.body.id, secret: response.body.signing_secret };
}

/** PATCHes a user with the org's API key. */
export function patchUser(partner: Partner, body: unknown, userId = partner.userId) {
  return request(partner.t.app)
    .patch(`/identity/users/${userId}`)
    .set('x-api-key', partner.apiKey)
    .send(body as object);
}
