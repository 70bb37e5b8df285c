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
  /**
   * The public origin of the routes this guards, e.g. `https://api.example.com`: a DPoP proof's
   * `htu` must name it with the request's path (`req.originalUrl`). Never taken from the `Host`
   * header, which the client writes. Set it when this API is published at another origin than the
   * exchange's `issuer`.
   * @default the origin of the exchange's `issuer`
   */
  publicOrigin?: string;
}

/**
 * Guards a host route with an access token minted by this service. On success `req.rialto`
 * holds the claims; otherwise the client gets 401 `unauthorized` / `invalid_access_token`, or
 * 403 `insufficient_claims` when `claims` are not all present with the given values.
 *
 * A DPoP-bound token (RFC 9449) is accepted only as `Authorization: DPoP` with a `DPoP` proof of
 * its key for this request (`htm`, `htu`, `ath`, single-use `jti`); sent as Bearer it is refused
 * (401, `WWW-Authenticate: DPoP error="invalid_token"`), and a missing or bad proof is 401
 * `invalid_dpop_proof` with a DPoP challenge. Unbound tokens work as Bearer, as before.
 *
 * @example
 * app.get('/portfolio', requireRialtoToken({ claims: { kyc_completed: true } }), (req, res) => {
 *   res.json({ user: req.rialto?.claims.user_id });
 * });
 */
export function requireRialtoToken(options: RequireRialtoTokenOptions = {}): RequestHandler {
  const { exchange: given, publicOrigin, ...verifyOptions } = options;
  const pinned = given === undefined ? undefined : 'handle' in given ? given : given.exchange;
  const configuredOrigin = publicOrigin === undefined ? undefined : originOf(publicOrigin);

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
      const origin = configuredOrigin ?? originOf(exchange.options.issuer);
      const url = `${origin}${req.originalUrl.split('?')[0]}`;
      req.rialto = await exchange.authenticateRequest(
        { method: req.method, url, headers: req.headers },
        verifyOptions,
      );
    } catch (error) {
      sendResponseLike(res, exchange.errorResponse(error, 'bearer'));
      return;
    }
    next();
  };
}

function originOf(url: string): string {
  if (!URL.canParse(url))
    throw new TypeError(`requireRialtoToken: \`publicOrigin\` must be an absolute URL, got "${url}"`);
  return new URL(url).origin;
}
