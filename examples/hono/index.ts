/**
 * Runs the Hono example on Node:
 *
 *   RIALTO_ADMIN_TOKEN=… PORT=4000 node --conditions=@rialto-exchange/source --import tsx examples/hono/index.ts
 *
 * PORT=0 picks a free port; the line `listening on <url>` names it. The store is in memory, and
 * loopback IdPs on plain http are allowed (a local dev IdP): a development setup, not production.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { createHonoApp } from './app.js';

const port = Number(process.env.PORT ?? 4000);
const adminToken = process.env.RIALTO_ADMIN_TOKEN ?? randomBytes(24).toString('base64url');
const store = memoryStore();

// Requests are answered only after `app` exists: the first can come once `listening on` is printed.
const server = serve({ fetch: (request, env) => app.fetch(request, env), port, hostname: '127.0.0.1' });
await once(server, 'listening');
// The issuer names the port, known only now when PORT=0.
const publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const { app, exchange } = createHonoApp({ publicUrl, store, adminToken, allowLocalIssuers: true });
console.log(`listening on ${publicUrl}`);
if (!process.env.RIALTO_ADMIN_TOKEN) console.log(`admin token: ${adminToken}`);

async function shutdown() {
  server.close();
  await exchange.close();
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
