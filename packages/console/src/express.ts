import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRialtoConsole, type RialtoConsole, type RialtoConsoleOptions } from './console-handler.js';

/** A pasted ID token and the longest form fields fit well within this. */
const MAX_FORM_BYTES = 64 * 1024;

export interface RialtoConsoleRouter extends RequestHandler {
  readonly console: RialtoConsole;
}

/** The form body, read here so the host needs no body parser before the console. */
async function readForm(req: Request): Promise<URLSearchParams | undefined> {
  if (req.method !== 'POST') return undefined;
  // A host body parser may have run first.
  if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
    return new URLSearchParams(req.body as Record<string, string>);
  }
  if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return new URLSearchParams();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new RangeError('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Mounts the admin console in an Express 4 or 5 app, at the path of `publicUrl`:
 *
 * @example
 * const rialto = rialtoExchange({ adminToken: process.env.RIALTO_ADMIN_TOKEN });
 * app.use(rialto);
 * app.use('/rialto-admin', rialtoConsole({ exchange: rialto.exchange, publicUrl: 'https://api.example.com/rialto-admin' }));
 */
export function rialtoConsole(options: RialtoConsoleOptions): RialtoConsoleRouter {
  const console = createRialtoConsole(options);
  const middleware = async function rialtoConsoleRouter(req: Request, res: Response, next: NextFunction) {
    try {
      let form: URLSearchParams | undefined;
      try {
        form = await readForm(req);
      } catch {
        res.status(413).type('text/plain').send('Form too large.');
        return;
      }
      const queryStart = req.originalUrl.indexOf('?');
      const response = await console.handle({
        method: req.method,
        path: req.path,
        query: new URLSearchParams(queryStart === -1 ? '' : req.originalUrl.slice(queryStart + 1)),
        headers: req.headers,
        form,
        ip: req.ip,
        raw: req,
      });
      res.status(response.status);
      for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
      res.end(response.body);
    } catch (error) {
      next(error);
    }
  };
  return Object.assign(middleware, { console });
}
