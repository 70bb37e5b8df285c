import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  type AddressPolicy,
  allowedAddressLookup,
  assertAllowedHost,
  classifyAddress,
  ipLiteralHost,
  isAllowedAddress,
} from './address-policy.js';

/** Why a remote document could not be used; kept in `cause`, never sent to clients. */
export class RemoteDocumentError extends Error {
  override readonly name = 'RemoteDocumentError';
}

export interface BoundedFetchLimits {
  timeoutMs: number;
  maxResponseBytes: number;
}

/** A WHATWG `fetch`, e.g. one that goes through a corporate proxy or trusts a private CA. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface BoundedFetchOptions extends BoundedFetchLimits {
  /** Which addresses the request may reach; checked on the address actually connected to. */
  addressPolicy: AddressPolicy;
  /**
   * A host-supplied fetch. The library does not control its connections, so the host is resolved
   * and checked before each call instead; the deadline and size cap still apply.
   */
  fetch?: FetchFunction;
}

/**
 * GETs a JSON object with a deadline on the whole exchange (name check, connect, headers and body)
 * and a cap on the body size, so a slow or hostile IdP can neither hold a request open nor exhaust
 * memory. Redirects are refused: a registered issuer must serve its own documents. The address
 * policy is enforced at connect time (DNS rebinding cannot reach an internal service).
 */
export async function fetchJsonObject(
  url: URL,
  options: BoundedFetchOptions,
): Promise<Record<string, unknown>> {
  const literal = ipLiteralHost(url);
  if (literal !== undefined && !isAllowedAddress(literal, options.addressPolicy)) {
    throw new RemoteDocumentError(`GET ${url.href} refused: a ${classifyAddress(literal)} address`);
  }
  const signal = AbortSignal.timeout(options.timeoutMs);
  const text = options.fetch
    ? await getWithHostFetch(url, options, options.fetch, signal)
    : await getWithNode(url, options, signal);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RemoteDocumentError(`GET ${url.href} did not return JSON`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RemoteDocumentError(`GET ${url.href} did not return a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function getWithNode(url: URL, options: BoundedFetchOptions, signal: AbortSignal): Promise<string> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let responded = false;
    const fail = (error: RemoteDocumentError) => {
      req.destroy();
      reject(error);
    };
    const req = send(url, {
      method: 'GET',
      signal,
      // A fresh connection per fetch: a pooled socket would skip the connect-time address check.
      agent: false,
      lookup: allowedAddressLookup(options.addressPolicy),
      headers: { accept: 'application/json' },
    });
    req.on('error', (error) =>
      reject(
        new RemoteDocumentError(
          `GET ${url.href} failed${responded ? ' while reading' : ''}: ${describe(error)}`,
          { cause: error },
        ),
      ),
    );
    req.on('response', (res: IncomingMessage) => {
      responded = true;
      if (res.statusCode !== 200)
        return fail(new RemoteDocumentError(`GET ${url.href} answered ${res.statusCode}`));
      const declaredLength = Number(res.headers['content-length'] ?? Number.NaN);
      if (declaredLength > options.maxResponseBytes) {
        return fail(new RemoteDocumentError(`GET ${url.href} declared ${declaredLength} bytes`));
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > options.maxResponseBytes) {
          fail(new RemoteDocumentError(`GET ${url.href} exceeded ${options.maxResponseBytes} bytes`));
        } else chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks, total).toString('utf8')));
      res.on('error', (error) =>
        reject(
          new RemoteDocumentError(`GET ${url.href} failed while reading: ${describe(error)}`, {
            cause: error,
          }),
        ),
      );
    });
    req.end();
  });
}

async function getWithHostFetch(
  url: URL,
  options: BoundedFetchOptions,
  hostFetch: FetchFunction,
  signal: AbortSignal,
): Promise<string> {
  let response: Response;
  try {
    await abortable(assertAllowedHost(url, options.addressPolicy), signal);
    response = await abortable(
      hostFetch(url.href, { signal, redirect: 'manual', headers: { accept: 'application/json' } }),
      signal,
    );
  } catch (error) {
    throw new RemoteDocumentError(`GET ${url.href} failed: ${describe(error)}`, { cause: error });
  }
  try {
    if (response.status !== 200) {
      throw new RemoteDocumentError(`GET ${url.href} answered ${response.status}`);
    }
    const declaredLength = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declaredLength > options.maxResponseBytes) {
      throw new RemoteDocumentError(`GET ${url.href} declared ${declaredLength} bytes`);
    }
    return await abortable(readTextCapped(response, options.maxResponseBytes, url), signal);
  } catch (error) {
    if (error instanceof RemoteDocumentError) throw error;
    throw new RemoteDocumentError(`GET ${url.href} failed while reading: ${describe(error)}`, {
      cause: error,
    });
  } finally {
    // Free the socket whatever happened to the body.
    void response.body?.cancel().catch(() => {});
  }
}

/** Settles with `promise`, or rejects when `signal` aborts first (a host fetch may ignore it). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function readTextCapped(response: Response, maxBytes: number, url: URL): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new RemoteDocumentError(`GET ${url.href} exceeded ${maxBytes} bytes`);
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof RemoteDocumentError) throw error;
    throw new RemoteDocumentError(`GET ${url.href} failed while reading: ${describe(error)}`, {
      cause: error,
    });
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}
