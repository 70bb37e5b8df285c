import type { RialtoExchange } from '@rialto-exchange/core';
import type { Request, RequestHandler, Response } from 'express';
import type { RialtoExchangeRouter } from './router.js';
import { sendResponseLike } from './to-request-like.js';

/**
 * An Express handler serving the exchange's RFC 8414 metadata, for an issuer with a path: RFC 8414
 * §3.1 puts it at the host's root, outside the router's mount path. Mount it at
 * `exchange.authorizationServerMetadata.path`.
 *
 * @example
 * const router = rialtoExchange({ store, issuer: 'https://api.example.com/auth' });
 * app.use('/auth', router);
 * app.get(router.exchange.authorizationServerMetadata.path, rialtoAuthorizationServerMetadataHandler(router));
 * // GET /.well-known/oauth-authorization-server/auth
 */
export function rialtoAuthorizationServerMetadataHandler(
  source: RialtoExchangeRouter | RialtoExchange,
): RequestHandler {
  const exchange = 'exchange' in source ? source.exchange : source;
  return function rialtoAuthorizationServerMetadata(_req: Request, res: Response) {
    sendResponseLike(res, exchange.authorizationServerMetadata.response());
  };
}
