/**
 * An ordinary Express app that already has routes, its own session handling and an HTML error
 * page, and adds the Rialto exchange under `/auth` with one line.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '@rialto-exchange/core';
import { type RialtoExchangeRouter, requireRialtoToken, rialtoExchange } from '@rialto-exchange/express';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

export interface ExistingAppOptions {
  /** Public URL of this app; the exchange's issuer is this plus the `/auth` mount path. */
  publicUrl: string;
  store?: Store;
  adminToken?: string;
  allowInsecureIssuers?: boolean;
  allowPrivateIssuers?: boolean;
}

export function createExistingApp(options: ExistingAppOptions): {
  app: Express;
  exchange: RialtoExchangeRouter;
} {
  const app = express();
  const sessions = new Map<string, { visits: number }>();

  // The host's own session scheme: untouched by the exchange mounted below.
  app.use((req: Request & { session?: { visits: number } }, res, next) => {
    const id = /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? randomUUID();
    const session = sessions.get(id) ?? { visits: 0 };
    session.visits++;
    sessions.set(id, session);
    req.session = session;
    res.setHeader('set-cookie', `sid=${id}; HttpOnly; SameSite=Lax; Path=/`);
    next();
  });

  app.get('/', (req: Request & { session?: { visits: number } }, res) => {
    res.send(`<h1>Acme Portal</h1><p>Visit ${req.session?.visits}</p>`);
  });

  // One line: the exchange, its admin routes and its JWKS now live under /auth.
  const exchange = rialtoExchange({
    issuer: `${options.publicUrl}/auth`,
    store: options.store,
    adminToken: options.adminToken,
    allowInsecureIssuers: options.allowInsecureIssuers,
    allowPrivateIssuers: options.allowPrivateIssuers,
  });
  app.use('/auth', exchange);

  // A host route only KYC-approved users may reach.
  app.get('/portfolio', requireRialtoToken({ exchange, claims: { kyc_completed: true } }), (req, res) => {
    res.json({ user_id: req.rialto?.claims.user_id, holdings: [] });
  });

  app.get('/boom', () => {
    throw new Error('host failure');
  });

  // The host's HTML error page still serves host routes; the exchange answers its own errors in JSON.
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).type('html').send(`<h1>Something went wrong</h1><!-- ${error.message} -->`);
  });

  return { app, exchange };
}
