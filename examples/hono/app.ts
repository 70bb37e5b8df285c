/**
 * A Hono app that mounts the Rialto exchange under `/auth` through core's fetch binding, beside its
 * own routes, and guards one of them with the exchange's access tokens. The same handler mounts in
 * any framework that speaks `Request` and `Response` (Next.js route handlers, Bun, Deno).
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import {
  createFetchHandler,
  createRialtoExchange,
  type RialtoExchange,
  type Store,
} from '@rialto-exchange/core';
import { Hono } from 'hono';

export interface HonoAppOptions {
  /** Public URL of this app; the exchange's issuer is this plus the `/auth` mount path. */
  publicUrl: string;
  store: Store;
  adminToken: string;
  /** For a local IdP on plain http and loopback; production issuers are https on public addresses. */
  allowLocalIssuers?: boolean;
}

export function createHonoApp(options: HonoAppOptions): { app: Hono; exchange: RialtoExchange } {
  const exchange = createRialtoExchange({
    issuer: `${options.publicUrl}/auth`,
    store: options.store,
    adminToken: options.adminToken,
    allowInsecureIssuers: options.allowLocalIssuers,
    allowPrivateIssuers: options.allowLocalIssuers,
  });
  // Hono hands over the whole path, so the handler is told the prefix it serves.
  const handleFetch = createFetchHandler(exchange, { basePath: '/auth' });
  const app = new Hono();

  app.get('/', (c) => c.text('Acme on Hono'));

  // The peer address feeds the per-address rate limit. A path under /auth that the exchange does
  // not serve answers null, and the request goes on to the routes below.
  app.use('/auth/*', async (c, next) => {
    const response = await handleFetch(c.req.raw, { clientAddress: getConnInfo(c).remote.address });
    if (response) return response;
    await next();
  });

  // A host route only KYC-approved users may reach.
  app.get('/portfolio', async (c) => {
    try {
      const { claims } = await exchange.authenticateBearer(Object.fromEntries(c.req.raw.headers), {
        claims: { kyc_completed: true },
      });
      return c.json({ user_id: claims.user_id, holdings: [] });
    } catch (error) {
      const { status, headers, body } = exchange.errorResponse(error, 'bearer');
      return new Response(JSON.stringify(body), {
        status,
        headers: { ...headers, 'content-type': 'application/json' },
      });
    }
  });

  return { app, exchange };
}
