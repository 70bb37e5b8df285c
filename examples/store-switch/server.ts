/**
 * The same host app on any store, chosen by configuration alone:
 *
 *   RIALTO_STORE=memory:                               pnpm example:store-switch
 *   RIALTO_STORE=sqlite:./.rialto/rialto.db            pnpm example:store-switch
 *   RIALTO_STORE=redis://127.0.0.1:6379                pnpm example:store-switch
 *   RIALTO_STORE=postgres://postgres@127.0.0.1/test    pnpm example:store-switch
 *   RIALTO_STORE=mysql://root@127.0.0.1:3306/test      pnpm example:store-switch
 *
 * Run it twice on one Redis or PostgreSQL and the two processes act as one service: tokens,
 * keys, organizations and revocations are shared through the store.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { rialtoExchange } from '@rialto-exchange/express';
import { storeFromUrl } from '@rialto-exchange/storage-adapters';
import express from 'express';

const env = process.env;
const prefix = env.RIALTO_STORE_PREFIX;
const store = storeFromUrl(
  env.RIALTO_STORE ?? 'sqlite:./.rialto/rialto.db',
  prefix ? { keyPrefix: prefix, tablePrefix: prefix } : {},
);

const app = express();
app.use(
  rialtoExchange({
    store,
    issuer: env.RIALTO_ISSUER ?? 'http://127.0.0.1:3000',
    allowInsecureIssuers: env.RIALTO_ALLOW_INSECURE_ISSUERS === '1',
    ...(env.RIALTO_ALLOW_PRIVATE_ISSUERS
      ? { allowPrivateIssuers: env.RIALTO_ALLOW_PRIVATE_ISSUERS === '1' }
      : {}),
    ...(env.RIALTO_LOOKUP_CACHE_TTL_SECONDS
      ? { lookupCacheTtlSeconds: Number(env.RIALTO_LOOKUP_CACHE_TTL_SECONDS) }
      : {}),
  }),
);
app.get('/healthz', (_req, res) => {
  res.json({ ok: true });
});

const server = app.listen(Number(env.PORT ?? 3000), '127.0.0.1');
await once(server, 'listening');
console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);

async function shutdown() {
  server.close();
  server.closeAllConnections();
  await store.close();
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
