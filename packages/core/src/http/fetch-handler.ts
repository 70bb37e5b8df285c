import type { RialtoExchange } from '../create-rialto-exchange.js';
import { RialtoError } from '../errors.js';
import type { ResponseLike } from './http-types.js';

/** Options of `createFetchHandler()`, fixed for the life of the handler. */
export interface FetchHandlerOptions {
  /**
   * The path prefix the host routes to the exchange without removing it, e.g. `/auth` for Hono's
   * `app.use('/auth/*', …)` or a Next.js route handler in `app/auth/[...path]/route.ts`. Requests
   * outside it get `null`. Leave it unset when the host removes the prefix itself, as Hono's
   * `mount()` does.
   * @default '' (the exchange's routes sit at the root)
   */
  basePath?: string;
}

/** What the host knows of a request beyond the `Request` itself. */
export interface FetchRequestContext {
  /**
   * The client's address as the server saw it on the connection, or as a proxy the host trusts
   * reported it: Hono on Node `getConnInfo(c).remote.address`, Bun `server.requestIP(request)?.address`,
   * Deno `info.remoteAddr.hostname`. Never a raw `X-Forwarded-For`, which any client can write.
   *
   * Pass `undefined` when the host cannot know it (a Next.js route handler): the per-address rate
   * limit then does not apply to the request; the per-organization limit still does.
   */
  clientAddress: string | undefined;
}

/**
 * Answers a standard `Request` addressed to one of the exchange's routes.
 * @returns `null` when the exchange serves no route at that path (the body is left unread), so the
 * host's router can carry on
 */
export type FetchHandler = (request: Request, context: FetchRequestContext) => Promise<Response | null>;

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Mounts the exchange wherever a framework speaks web-standard `Request` and `Response`: Hono, Next.js
 * route handlers, Bun, Deno. Like the Express binding it starts the webhook delivery worker, reads
 * at most `maxBodyBytes` of a body, refuses compressed bodies, answers every failure as JSON, and
 * leaves requests for other paths to the host.
 *
 * @throws TypeError when `basePath` does not start with `/`
 * @example
 * const exchange = createRialtoExchange({ issuer: 'https://api.example.com/auth', store });
 * const handleFetch = createFetchHandler(exchange, { basePath: '/auth' });
 * const app = new Hono();
 * app.use('/auth/*', async (c, next) => {
 *   const response = await handleFetch(c.req.raw, { clientAddress: getConnInfo(c).remote.address });
 *   if (response) return response;
 *   await next(); // a path the exchange does not serve goes on to the host's routes
 * });
 */
export function createFetchHandler(
  exchange: RialtoExchange,
  options: FetchHandlerOptions = {},
): FetchHandler {
  const basePath = resolveBasePath(options.basePath);
  const { maxBodyBytes, rateLimit } = exchange.options;
  const isAddressLimited = rateLimit.perIp !== false;
  // Off with `webhooks: { worker: false }`; its timer is unref'd, so it never holds the process open.
  exchange.webhooks.startWorker();

  return async function handleFetch(request, context) {
    const url = new URL(request.url);
    const path = pathWithin(url.pathname, basePath);
    if (path === undefined || !exchange.handlesPath(path)) return null;
    // Hono's mount() passes its own environment as the second argument unless told otherwise.
    if (
      isAddressLimited &&
      !(typeof context === 'object' && context !== null && 'clientAddress' in context)
    ) {
      warnNoClientAddress();
    }
    try {
      const body = await readBody(request, maxBodyBytes);
      const response = await exchange.handle({
        method: request.method,
        path,
        query: url.search.slice(1),
        headers: Object.fromEntries(request.headers),
        body,
        ip: context?.clientAddress,
      });
      return response === null ? null : toResponse(response);
    } catch (error) {
      return toResponse(exchange.errorResponse(error));
    }
  };
}

function resolveBasePath(basePath = ''): string {
  if (basePath !== '' && !basePath.startsWith('/')) {
    throw new TypeError(`createFetchHandler: \`basePath\` must start with "/", got "${basePath}"`);
  }
  return basePath.replace(/\/+$/, '');
}

/** `pathname` relative to `basePath` (`/auth/x` → `/x`), or `undefined` outside it (`/authx`). */
function pathWithin(pathname: string, basePath: string): string | undefined {
  if (basePath === '') return pathname;
  if (pathname === basePath) return '/';
  return pathname.startsWith(`${basePath}/`) ? pathname.slice(basePath.length) : undefined;
}

/**
 * The body as text, refusing more than `maxBytes` before buffering it: a declared length over the
 * limit is refused unread, and a stream that runs past it is cancelled at the chunk that does.
 */
async function readBody(request: Request, maxBytes: number): Promise<string | undefined> {
  const encoding = request.headers.get('content-encoding');
  if (encoding !== null && encoding !== 'identity') {
    throw new RialtoError('unsupported_media_type', 'Compressed request bodies are not accepted.');
  }
  if (Number(request.headers.get('content-length') ?? 0) > maxBytes) throw tooLarge(maxBytes);
  if (request.body === null) return undefined;
  if (request.bodyUsed) {
    // A host bug, not the client's: the answer is a logged 500.
    throw new TypeError(
      'createFetchHandler: the request body was already read; route requests to the exchange before anything reads their body',
    );
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // The server owns the connection: whether it drains the rest or closes is its call, not ours.
      reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function tooLarge(maxBytes: number): RialtoError {
  return new RialtoError('request_too_large', `The request body must not exceed ${maxBytes} bytes.`);
}

function toResponse({ status, headers, body }: ResponseLike): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, 'content-type': JSON_CONTENT_TYPE },
  });
}

let hasWarnedNoClientAddress = false;

function warnNoClientAddress(): void {
  if (hasWarnedNoClientAddress) return;
  hasWarnedNoClientAddress = true;
  process.emitWarning(
    'handleFetch() was called without `clientAddress`, so the per-address rate limit is off for such requests. Pass `{ clientAddress }` (Hono on Node: getConnInfo(c).remote.address), or `{ clientAddress: undefined }` when the host cannot know it.',
    { code: 'RIALTO_NO_CLIENT_ADDRESS' },
  );
}
