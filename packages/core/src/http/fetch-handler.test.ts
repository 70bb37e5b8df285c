import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRialtoExchange } from '../create-rialto-exchange.js';
import { StoreUnavailableError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { createFetchHandler } from './fetch-handler.js';

const ADMIN_TOKEN = 'fetch-handler-admin-token';
const NO_ADDRESS = { clientAddress: undefined };
const quietLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };

function exchangeWith(options: Partial<Parameters<typeof createRialtoExchange>[0]> = {}) {
  return createRialtoExchange({
    issuer: 'http://localhost:3000',
    store: memoryStore(),
    adminToken: ADMIN_TOKEN,
    webhooks: { worker: false },
    logger: quietLogger,
    ...options,
  });
}

/** A body stream of `chunks` chunks of `chunkBytes` each, counting how many were pulled and whether it was cancelled. */
function countedStream(chunks: number, chunkBytes: number) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled === chunks) {
        controller.close();
        return;
      }
      state.pulled++;
      controller.enqueue(new Uint8Array(chunkBytes).fill(0x20));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return Object.assign(state, { stream });
}

function post(path: string, body: RequestInit['body'], headers: Record<string, string> = {}): Request {
  return new Request(`http://127.0.0.1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    duplex: 'half',
  } as RequestInit);
}

/** The answer's JSON body; fails when the handler passed the request on. */
// biome-ignore lint/suspicious/noExplicitAny: answers of every shape
async function bodyOf(response: Response | null): Promise<any> {
  if (response === null) throw new Error('the handler passed the request on');
  return response.json();
}

async function expectJsonError(
  response: Response | null,
  status: number,
  error: string,
  description: string,
) {
  expect(response?.status).toBe(status);
  expect(response?.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(response?.headers.get('cache-control')).toBe('no-store');
  expect(await bodyOf(response)).toEqual({ error, error_description: description });
}

describe('createFetchHandler', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('answers a route of the exchange with a JSON Response and its cache headers', async () => {
    const handleFetch = createFetchHandler(exchangeWith());
    const response = await handleFetch(new Request('http://127.0.0.1/.well-known/jwks.json'), NO_ADDRESS);
    expect(response?.status).toBe(200);
    expect(response?.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response?.headers.get('cache-control')).toMatch(/^public/);
    expect((await bodyOf(response)).keys).toHaveLength(1);
  });

  it('returns null for a path the exchange does not serve, leaving the body unread for the host', async () => {
    const handleFetch = createFetchHandler(exchangeWith());
    const request = post('/host/orders', '{"order":1}');
    expect(await handleFetch(request, NO_ADDRESS)).toBeNull();
    expect(request.bodyUsed).toBe(false);
    expect(await request.json()).toEqual({ order: 1 });
  });

  it('serves its routes under basePath and returns null outside it', async () => {
    const handleFetch = createFetchHandler(exchangeWith(), { basePath: '/auth/' });
    const under = await handleFetch(new Request('http://127.0.0.1/auth/.well-known/jwks.json'), NO_ADDRESS);
    expect(under?.status).toBe(200);
    expect(await handleFetch(new Request('http://127.0.0.1/.well-known/jwks.json'), NO_ADDRESS)).toBeNull();
    expect(
      await handleFetch(new Request('http://127.0.0.1/authx/.well-known/jwks.json'), NO_ADDRESS),
    ).toBeNull();
    expect(await handleFetch(new Request('http://127.0.0.1/auth'), NO_ADDRESS)).toBeNull();
  });

  it('treats a basePath of "/" as the root', async () => {
    const handleFetch = createFetchHandler(exchangeWith(), { basePath: '/' });
    const response = await handleFetch(new Request('http://127.0.0.1/.well-known/jwks.json'), NO_ADDRESS);
    expect(response?.status).toBe(200);
  });

  it('routes by path alone, whatever the query string', async () => {
    const handleFetch = createFetchHandler(exchangeWith());
    const response = await handleFetch(
      new Request('http://127.0.0.1/.well-known/jwks.json?cache-buster=1'),
      NO_ADDRESS,
    );
    expect(response?.status).toBe(200);
  });

  it('serves two exchanges side by side, each under its own basePath', async () => {
    const partners = createFetchHandler(exchangeWith({ issuer: 'http://localhost:3000/partners' }), {
      basePath: '/partners',
    });
    const staff = createFetchHandler(exchangeWith({ issuer: 'http://localhost:3000/staff' }), {
      basePath: '/staff',
    });
    const configuration = (prefix: string) =>
      new Request(`http://127.0.0.1${prefix}/.well-known/openid-configuration`);
    expect((await bodyOf(await partners(configuration('/partners'), NO_ADDRESS))).issuer).toBe(
      'http://localhost:3000/partners',
    );
    expect(await partners(configuration('/staff'), NO_ADDRESS)).toBeNull();
    expect((await bodyOf(await staff(configuration('/staff'), NO_ADDRESS))).issuer).toBe(
      'http://localhost:3000/staff',
    );
  });

  it('refuses a basePath that is not a path, naming the option', () => {
    expect(() => createFetchHandler(exchangeWith(), { basePath: 'auth' })).toThrow(
      new TypeError('createFetchHandler: `basePath` must start with "/", got "auth"'),
    );
  });

  it('answers method_not_allowed 405 with Allow for a method the path does not serve', async () => {
    const handleFetch = createFetchHandler(exchangeWith());
    const response = await handleFetch(
      new Request('http://127.0.0.1/.well-known/jwks.json', { method: 'DELETE' }),
      NO_ADDRESS,
    );
    expect(response?.headers.get('allow')).toBe('GET');
    await expectJsonError(response, 405, 'method_not_allowed', 'The method is not allowed on this resource.');
  });

  it('answers missing_api_key 401 with a WWW-Authenticate challenge', async () => {
    const handleFetch = createFetchHandler(exchangeWith());
    const response = await handleFetch(post('/identity/auth/exchange', '{"token":"x"}'), NO_ADDRESS);
    expect(response?.headers.get('www-authenticate')).toMatch(/^APIKey realm="rialto", header="X-API-Key"/);
    expect(response?.status).toBe(401);
    expect((await bodyOf(response)).error).toBe('missing_api_key');
  });

  it('reads request headers whatever their case, as HTTP names are case-insensitive', async () => {
    const handleFetch = createFetchHandler(exchangeWith());
    const response = await handleFetch(
      post('/identity/auth/exchange', '{}', { 'X-Api-KEY': 'not-a-key' }),
      NO_ADDRESS,
    );
    expect((await bodyOf(response)).error).toBe('invalid_api_key');
  });

  it('answers temporarily_unavailable 503 with Retry-After when the store cannot be reached', async () => {
    const store = memoryStore();
    const down = () => Promise.reject(new StoreUnavailableError('down'));
    const handleFetch = createFetchHandler(
      exchangeWith({ store: { ...store, createOrganization: down, findIssuerRegistrations: down } }),
    );
    const response = await handleFetch(
      post('/identity/organizations', '{"name":"Acme","issuer":"https://idp.example.com"}', {
        authorization: `Bearer ${ADMIN_TOKEN}`,
      }),
      NO_ADDRESS,
    );
    expect(response?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(response?.status).toBe(503);
    expect((await bodyOf(response)).error).toBe('temporarily_unavailable');
  });

  it('refuses a declared content-length over maxBodyBytes without reading the body', async () => {
    const handleFetch = createFetchHandler(exchangeWith({ maxBodyBytes: 1024 }));
    const body = countedStream(10, 512);
    const response = await handleFetch(
      post('/identity/auth/exchange', body.stream, { 'content-length': '5120' }),
      NO_ADDRESS,
    );
    await expectJsonError(response, 413, 'request_too_large', 'The request body must not exceed 1024 bytes.');
    expect(body.pulled).toBeLessThanOrEqual(1); // a stream may pull one chunk ahead when it is built
    expect(response?.headers.has('connection')).toBe(false);
  });

  it('stops reading a streamed body at the chunk that passes maxBodyBytes and cancels the rest', async () => {
    const handleFetch = createFetchHandler(exchangeWith({ maxBodyBytes: 1024 }));
    const body = countedStream(100, 512);
    const response = await handleFetch(post('/identity/auth/exchange', body.stream), NO_ADDRESS);
    await expectJsonError(response, 413, 'request_too_large', 'The request body must not exceed 1024 bytes.');
    expect(body.pulled).toBeLessThan(6);
    expect(body.cancelled).toBe(true);
  });

  it('accepts a body of exactly maxBodyBytes', async () => {
    const handleFetch = createFetchHandler(exchangeWith({ maxBodyBytes: 1024 }));
    const response = await handleFetch(
      post('/identity/organizations', `{"name":"${'n'.repeat(1024 - 11)}"}`, {
        authorization: `Bearer ${ADMIN_TOKEN}`,
      }),
      NO_ADDRESS,
    );
    // Past the body reader: the admin route judges the fields.
    expect(response?.status).toBe(400);
    expect((await bodyOf(response)).error).toBe('invalid_request');
  });

  it.each(['gzip', 'br', 'deflate'])(
    'refuses a %s-encoded body with unsupported_media_type 415',
    async (encoding) => {
      const handleFetch = createFetchHandler(exchangeWith());
      const response = await handleFetch(
        post('/identity/auth/exchange', '{}', { 'content-encoding': encoding, 'x-api-key': 'k' }),
        NO_ADDRESS,
      );
      await expectJsonError(
        response,
        415,
        'unsupported_media_type',
        'Compressed request bodies are not accepted.',
      );
    },
  );

  it('reads a body marked content-encoding: identity', async () => {
    const handleFetch = createFetchHandler(exchangeWith());
    const response = await handleFetch(
      post('/identity/auth/exchange', '{', { 'content-encoding': 'identity', 'x-api-key': 'not-a-key' }),
      NO_ADDRESS,
    );
    expect(response?.status).toBe(401);
    expect((await bodyOf(response)).error).toBe('invalid_api_key');
  });

  it('answers a body some host middleware already read with a logged server_error 500', async () => {
    const errors: unknown[] = [];
    const handleFetch = createFetchHandler(
      exchangeWith({ logger: { ...quietLogger, error: (fields) => errors.push(fields) } }),
    );
    const request = post('/identity/auth/exchange', '{"token":"x"}', { 'x-api-key': 'k' });
    await request.text();
    const response = await handleFetch(request, NO_ADDRESS);
    await expectJsonError(response, 500, 'server_error', 'An unexpected error occurred.');
    expect(String((errors[0] as { err: Error }).err.message)).toMatch(/already read/);
  });

  it('limits each client address by the clientAddress it is given, with Retry-After', async () => {
    const handleFetch = createFetchHandler(
      exchangeWith({ rateLimit: { perIp: { limit: 2, windowSeconds: 60 }, perOrganization: false } }),
    );
    const from = (clientAddress: string | undefined) =>
      handleFetch(post('/identity/auth/exchange', '{}', { 'x-api-key': 'k' }), { clientAddress });
    expect((await from('192.0.2.1'))?.status).toBe(401);
    expect((await from('192.0.2.1'))?.status).toBe(401);
    const limited = await from('192.0.2.1');
    expect(limited?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited?.status).toBe(429);
    expect((await bodyOf(limited)).error).toBe('rate_limited');
    expect((await from('192.0.2.2'))?.status).toBe(401);
  });

  it('applies no per-address limit to requests without a clientAddress', async () => {
    const handleFetch = createFetchHandler(
      exchangeWith({ rateLimit: { perIp: { limit: 1, windowSeconds: 60 }, perOrganization: false } }),
    );
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await handleFetch(
        post('/identity/auth/exchange', '{}', { 'x-api-key': 'k' }),
        NO_ADDRESS,
      );
      expect(response?.status).toBe(401);
    }
  });

  it('starts the webhook delivery worker, as the Express binding does', () => {
    const exchange = exchangeWith();
    const startWorker = vi.spyOn(exchange.webhooks, 'startWorker');
    createFetchHandler(exchange);
    expect(startWorker).toHaveBeenCalledOnce();
  });
});

describe('handleFetch without a clientAddress', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // One test, because the warning is once per process and test order must not matter.
  it('warns once when the context has no clientAddress at all, and never for an explicit undefined or with the limit off', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const jwks = () => new Request('http://127.0.0.1/.well-known/jwks.json');
    const limitOff = createFetchHandler(exchangeWith({ rateLimit: { perIp: false } }));
    await limitOff(jwks(), {} as never);
    const handleFetch = createFetchHandler(exchangeWith());
    await handleFetch(jwks(), NO_ADDRESS);
    expect(warnings).not.toHaveBeenCalled();

    // Hono's mount() passes the server's environment unless told otherwise.
    await handleFetch(jwks(), { incoming: {}, outgoing: {} } as never);
    await handleFetch(jwks(), undefined as never);
    expect(warnings).toHaveBeenCalledOnce();
    expect(warnings.mock.calls[0]?.[1]).toEqual({ code: 'RIALTO_NO_CLIENT_ADDRESS' });
  });
});
