import type { RequestLike, ResponseLike } from '@rialto-exchange/core';
import type { Request, Response } from 'express';

/** Maps an Express request to the core's plain request; `path` is relative to the mount point. */
export function toRequestLike(req: Request, body: unknown): RequestLike {
  const queryAt = req.originalUrl.indexOf('?');
  return {
    method: req.method,
    path: req.path,
    query: queryAt === -1 ? undefined : req.originalUrl.slice(queryAt + 1),
    headers: req.headers,
    body,
    ip: req.ip,
  };
}

/** Writes a core response. */
export function sendResponseLike(res: Response, response: ResponseLike): void {
  const payload = JSON.stringify(response.body);
  if (response.headers['cache-control'] === 'no-store') {
    // Uncacheable answers (tokens, errors) skip res.json's ETag hashing and freshness checks: on the
    // exchange's hot path that is measurable work with nothing to gain.
    res.writeHead(response.status, {
      ...response.headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
    });
    res.end(payload);
    return;
  }
  res.status(response.status);
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.type('application/json').send(payload);
}
