import {
  createRialtoExchange,
  type RialtoExchange,
  type RialtoExchangeOptions,
  type Store,
} from '@rialto-exchange/core';
import { storeFromUrl } from '@rialto-exchange/storage-adapters';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { developmentStore } from './development-store.js';
import { optionsFromEnvironment } from './environment.js';
import { readBody } from './read-body.js';
import { sendResponseLike, toRequestLike } from './to-request-like.js';

/** Options of `rialtoExchange()`: the core options, with development defaults for `store` and `issuer`. */
export interface RialtoExchangeExpressOptions extends Partial<RialtoExchangeOptions> {}

/** The middleware `rialtoExchange()` returns; mount it with `app.use()` like any router. */
export interface RialtoExchangeRouter extends RequestHandler {
  /** The core service behind the routes: verify tokens, rotate keys or register organizations from host code. */
  readonly exchange: RialtoExchange;
  /**
   * Stops the background webhook delivery worker, e.g. on shutdown; pending deliveries stay in the
   * store. Closes the store when the router opened it (from `RIALTO_STORE`, or the zero-config
   * development store); a store passed in stays open, the host's to close.
   */
  close(): Promise<void>;
}

const DEVELOPMENT_ISSUER = 'http://localhost:3000';
let mostRecentExchange: RialtoExchange | undefined;

/**
 * Mounts the identity token exchange in an Express 4 or 5 app. Requests to other paths pass
 * through untouched, so the host's own routes keep working beside it.
 *
 * With no `store`, data lives in SQLite at `./.rialto/rialto.db` (memory if `better-sqlite3` is
 * not installed): fine for trying it out, wrong for production, and a warning says so at start-up.
 * `RIALTO_STORE` (a store URL, see `storeFromUrl`), `RIALTO_ISSUER`, `RIALTO_ADMIN_TOKEN`,
 * `RIALTO_ACCESS_TOKEN_KEY`, `RIALTO_ACCESS_TOKEN_ALGORITHM` and `RIALTO_REFRESH_TOKEN_SECRET` fill
 * the options of the same meaning when they are not passed.
 *
 * @example
 * app.use(rialtoExchange({ issuer: 'https://api.example.com', store: redisStore({ url: process.env.REDIS_URL }) }));
 */
export function rialtoExchange(explicit: RialtoExchangeExpressOptions = {}): RialtoExchangeRouter {
  const options = { ...optionsFromEnvironment(), ...withoutUndefined(explicit) };
  // Opened here, after the explicit options are known, so a passed store never opens a second one.
  const storeFromEnvironment =
    options.store === undefined && process.env.RIALTO_STORE
      ? storeFromUrl(process.env.RIALTO_STORE)
      : undefined;
  const fallbackStore =
    options.store === undefined && storeFromEnvironment === undefined ? developmentStore() : undefined;
  const exchange = createRialtoExchange({
    ...options,
    store: options.store ?? storeFromEnvironment ?? (fallbackStore?.store as Store),
    issuer: options.issuer ?? DEVELOPMENT_ISSUER,
  });
  if (!options.adminToken && !options.authorizeAdmin) warnAdminRoutesDisabled();
  if (fallbackStore || options.issuer === undefined) {
    warnDevelopmentDefaults([
      fallbackStore ? `\`store\` (using ${fallbackStore.description})` : undefined,
      options.issuer === undefined ? `\`issuer\` (using ${DEVELOPMENT_ISSUER})` : undefined,
    ]);
  }
  mostRecentExchange = exchange;
  // Off with `webhooks: { worker: false }`; its timer is unref'd, so it never holds the process open.
  exchange.webhooks.startWorker();
  const maxBodyBytes = exchange.options.maxBodyBytes;

  const middleware = async function rialtoExchangeRouter(req: Request, res: Response, next: NextFunction) {
    if (!exchange.handlesPath(req.path)) {
      next();
      return;
    }
    try {
      const body = await readBody(req, maxBodyBytes);
      const response = await exchange.handle(toRequestLike(req, body));
      if (response === null) next();
      else sendResponseLike(res, response);
    } catch (error) {
      sendResponseLike(res, exchange.errorResponse(error));
    }
  };
  // A store the router opened is the router's to close; a store passed in stays the host's.
  const openedStore = storeFromEnvironment ?? fallbackStore?.store;
  const close = async () => {
    await exchange.close();
    await openedStore?.close();
  };
  return Object.assign(middleware, { exchange, close });
}

/** The exchange created last in this process, used by `requireRialtoToken()` when none is passed. */
export function defaultExchange(): RialtoExchange | undefined {
  return mostRecentExchange;
}

// Explicit `undefined` (e.g. `{ store: config.store }`) must not hide a value from the environment.
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

let warnedAdminRoutesDisabled = false;

function warnAdminRoutesDisabled(): void {
  if (warnedAdminRoutesDisabled) return;
  warnedAdminRoutesDisabled = true;
  process.emitWarning(
    'rialtoExchange(): the admin routes (POST /identity/organizations, API keys) answer 404 because neither `adminToken` (RIALTO_ADMIN_TOKEN) nor `authorizeAdmin` is set. Set one, or register organizations with the rialto-exchange CLI.',
    { code: 'RIALTO_ADMIN_ROUTES_DISABLED' },
  );
}

function warnDevelopmentDefaults(defaults: Array<string | undefined>): void {
  process.emitWarning(
    `rialtoExchange() is running with development defaults, not fit for production. Set ${defaults.filter(Boolean).join(' and ')}.`,
    { code: 'RIALTO_DEVELOPMENT_DEFAULTS' },
  );
}
