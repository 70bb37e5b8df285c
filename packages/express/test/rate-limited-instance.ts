/**
 * One exchange instance for the two-process rate-limit test, started as its own process:
 *   node --import tsx rate-limited-instance.ts <store URL> <key or table prefix> <per-org limit JSON>
 * It prints `listening on <url>` once it serves. Configuration comes from the arguments only.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { rialtoExchange } from '@rialto-exchange/express';
import { storeFromUrl } from '@rialto-exchange/storage-adapters';
import express from 'express';
import { ADMIN_TOKEN } from './helpers.js';

const [storeUrl = '', prefix = '', perOrganization = ''] = process.argv.slice(2);
const store = storeFromUrl(storeUrl, { keyPrefix: prefix, tablePrefix: prefix });
const app = express();
app.use(
  rialtoExchange({
    store,
    issuer: 'http://127.0.0.1:3000',
    adminToken: ADMIN_TOKEN,
    allowInsecureIssuers: true,
    allowPrivateIssuers: true,
    rateLimit: { perIp: false, perOrganization: JSON.parse(perOrganization) },
    webhooks: { worker: false },
    logger: false,
  }),
);
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void store.close();
});
