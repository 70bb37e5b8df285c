import type { RequestLike, ResponseLike } from '@rialto-exchange/core';
import type { Request, Response } from 'express';

/** Maps an Express request to the core's plain request; `path` is relative to the mount point. */
export function toRequestLike(req: Request, body: unknown): RequestLike {
  return { method: req.method, path: req.path, headers: req.headers, body, ip: req.ip };
}

/** Writes a core response. */
export function sendResponseLike(res: Response, response: ResponseLike): void {
  res.status(response.status);
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.json(response.body);
}
