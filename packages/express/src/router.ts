import { createRialtoExchange, type RialtoExchange, type RialtoExchangeOptions } from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { optionsFromEnvironment } from './environment.js';
import { readBody } from './read-body.js';
import { sendResponseLike, toRequestLike } from './to-request-like.js';

/** Options of `rialtoExchange()`: the core options, with development defaults for `store` and `issuer`. */
export interface RialtoExchangeExpressOptions extends Partial<RialtoExchangeOptions> {}

/** The middleware `rialtoExchange()` returns; mount it with `app.use()` like any router. */
export interface RialtoExchangeRouter extends RequestHandler {
  /** The core service behind the routes: verify tokens or register organizations from host code. */
  readonly exchange: RialtoExchange;
}

const DEVELOPMENT_ISSUER = 'http://localhost:3000';
let mostRecentExchange: RialtoExchange | undefined;

/**
 * Mounts the identity token exchange in an Express 4 or 5 app. Requests to other paths pass
 * through untouched, so the host's own routes keep working beside it.
 *
 * With no `store`, users and keys live in memory and are lost on restart: fine for trying it out,
 * wrong for production, and a warning says so once at start-up. `RIALTO_ISSUER`,
 * `RIALTO_ADMIN_TOKEN`, `RIALTO_ACCESS_TOKEN_KEY` and `RIALTO_REFRESH_TOKEN_SECRET` fill the
 * options of the same meaning when they are not passed.
 *
 * @example
 * app.use(rialtoExchange({ issuer: 'https://api.example.com', store: redisStore({ url: process.env.REDIS_URL }) }));
 */
export function rialtoExchange(explicit: RialtoExchangeExpressOptions = {}): RialtoExchangeRouter {
  const options = { ...optionsFromEnvironment(), ...withoutUndefined(explicit) };
  const isDevelopmentSetup = options.store === undefined || options.issuer === undefined;
  const exchange = createRialtoExchange({
    ...options,
    store: options.store ?? memoryStore(),
    issuer: options.issuer ?? DEVELOPMENT_ISSUER,
  });
  if (isDevelopmentSetup) warnDevelopmentSetup(exchange, options);
  mostRecentExchange = exchange;
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
  return Object.assign(middleware, { exchange });
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** The exchange created last in this process, used by `requireRialtoToken()` when none is passed. */
export function defaultExchange(): RialtoExchange | undefined {
  return mostRecentExchange;
}

function warnDevelopmentSetup(exchange: RialtoExchange, options: RialtoExchangeExpressOptions): void {
  const missing = [
    options.store === undefined
      ? '`store` (using an in-memory store: everything is lost on restart)'
      : undefined,
    options.issuer === undefined ? `\`issuer\` (using ${exchange.options.issuer})` : undefined,
  ].filter(Boolean);
  process.emitWarning(
    `rialtoExchange() is running with development defaults, not fit for production. Set ${missing.join(' and ')}.`,
    { code: 'RIALTO_DEVELOPMENT_DEFAULTS' },
  );
}
