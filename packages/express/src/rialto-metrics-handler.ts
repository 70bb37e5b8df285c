import type { RialtoExchange } from '@rialto-exchange/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { RialtoExchangeRouter } from './router.js';

/**
 * An Express handler serving the exchange's Prometheus metrics in the text format. Mount it where
 * your Prometheus scrapes, ideally on an internal port or behind your own auth: the figures hold no
 * tokens, emails, keys or per-organization labels, but they describe your traffic.
 *
 * @throws TypeError when the exchange was created without the `metrics` option
 * @example
 * const router = rialtoExchange({ store, issuer, metrics: true });
 * app.use(router);
 * internalApp.get('/metrics', rialtoMetricsHandler(router));
 */
export function rialtoMetricsHandler(source: RialtoExchangeRouter | RialtoExchange): RequestHandler {
  const exchange = 'exchange' in source ? source.exchange : source;
  const { metrics } = exchange;
  if (metrics === undefined) {
    throw new TypeError(
      'rialtoMetricsHandler: the exchange has no metrics; create it with `metrics: true` or `metrics: { registry }`',
    );
  }
  return async function rialtoMetrics(_req: Request, res: Response, next: NextFunction) {
    try {
      const text = await metrics.scrape();
      res.set('content-type', metrics.contentType).set('cache-control', 'no-store').send(text);
    } catch (error) {
      next(error);
    }
  };
}
