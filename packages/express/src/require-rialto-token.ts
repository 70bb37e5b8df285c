import type {
  RialtoAccessTokenClaims,
  RialtoExchange,
  VerifyAccessTokenOptions,
} from '@rialto-exchange/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { defaultExchange, type RialtoExchangeRouter } from './router.js';
import { sendResponseLike } from './to-request-like.js';

/** What `requireRialtoToken()` puts on the request. */
export interface RialtoAuth {
  /** The verified access-token claims. */
  claims: RialtoAccessTokenClaims;
  /** The raw access token, for calling other services on the user's behalf. */
  token: string;
}

declare global {
  namespace Express {
    interface Request {
      /** Set by `requireRialtoToken()` once the access token is verified. */
      rialto?: RialtoAuth;
    }
  }
}

export interface RequireRialtoTokenOptions extends VerifyAccessTokenOptions {
  /**
   * The exchange whose keys verify the token: the router `rialtoExchange()` returned, or its
   * `exchange`. Defaults to the one created last in this process; pass it when you create several.
   */
  exchange?: RialtoExchangeRouter | RialtoExchange;
}

/**
 * Guards a host route with an access token minted by this service. On success `req.rialto`
 * holds the claims; otherwise the client gets 401 `unauthorized` / `invalid_access_token`, or
 * 403 `insufficient_claims` when `claims` are not all present with the given values.
 *
 * @example
 * app.get('/portfolio', requireRialtoToken({ claims: { kyc_completed: true } }), (req, res) => {
 *   res.json({ user: req.rialto?.claims.user_id });
 * });
 */
export function requireRialtoToken(options: RequireRialtoTokenOptions = {}): RequestHandler {
  const { exchange: given, ...verifyOptions } = options;
  const pinned = given === undefined ? undefined : 'handle' in given ? given : given.exchange;

  return async function requireRialtoToken(req: Request, res: Response, next: NextFunction) {
    const exchange = pinned ?? defaultExchange();
    if (!exchange) {
      next(
        new TypeError(
          'requireRialtoToken: no rialtoExchange() has been created; create one or pass `exchange`',
        ),
      );
      return;
    }
    try {
      req.rialto = await exchange.authenticateBearer(req.headers, verifyOptions);
    } catch (error) {
      sendResponseLike(res, exchange.errorResponse(error, 'bearer'));
      return;
    }
    next();
  };
}
