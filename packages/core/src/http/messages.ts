import { createHash, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { type ErrorBody, errorBody, RialtoError } from '../errors.js';
import type { RequestLike, ResponseLike } from './http-types.js';

// Token responses carry credentials: RFC 6749 §5.1 forbids caching them.
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/**
 * A JSON answer parsed through its strict schema first, so it can carry no field the OpenAPI
 * document does not name (an extra one is a server bug: 500, logged). Off the hot path only.
 */
export function respond<T>(
  status: number,
  schema: z.ZodType<T>,
  body: NoInfer<T>,
  headers: Record<string, string> = {},
): ResponseLike {
  return json(status, schema.parse(body), headers);
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): ResponseLike {
  return { status, headers: { ...NO_STORE, ...headers }, body };
}

/** How a route authenticates its caller; decides the `WWW-Authenticate` challenge on a 401. */
export type AuthScheme = 'api_key' | 'bearer' | 'none';

export function errorResponse(error: RialtoError, scheme: AuthScheme): ResponseLike {
  const body: ErrorBody = errorBody(error);
  const headers = { ...error.headers };
  // A DPoP-bound token's failures bring their own DPoP challenge (RFC 9449 §7.1).
  if (error.status === 401 && headers['www-authenticate'] === undefined) {
    headers['www-authenticate'] = challenge(scheme, body);
  }
  return json(error.status, body, headers);
}

function challenge(scheme: AuthScheme, body: ErrorBody): string {
  const description = body.error_description.replace(/["\\]/g, '');
  if (scheme === 'bearer') {
    // RFC 6750 §3.1 names a bad bearer token invalid_token, whatever our own code says.
    const error = body.error === 'unauthorized' ? '' : ', error="invalid_token"';
    return `Bearer realm="rialto"${error}, error_description="${description}"`;
  }
  return `APIKey realm="rialto", header="X-API-Key", error="${body.error}", error_description="${description}"`;
}

export function header(request: RequestLike, name: string): string | undefined {
  return headerOf(request.headers, name);
}

function headerOf(headers: RequestLike['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** @returns the bearer token of the Authorization header (RFC 6750 §2.1), or `undefined` when there is none. */
export function bearerToken(headers: RequestLike['headers']): string | undefined {
  const authorization = headerOf(headers, 'authorization');
  if (!authorization) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  return match?.[1];
}

/**
 * The request body as a JSON value: raw text is parsed; a value some host middleware already
 * parsed is taken as is.
 * @throws RialtoError with `errorCode` when the body is not JSON
 */
export function parseJsonBody(
  body: RequestLike['body'],
  errorCode: 'invalid_request' | 'invalid_token',
): unknown {
  if (body === undefined || body === null) return undefined;
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : undefined;
  if (text === undefined) return body;
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new RialtoError(errorCode, 'The request body must be valid JSON.');
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Compares secrets of any length in constant time by comparing their digests. */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}
