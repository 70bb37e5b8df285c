import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BoundedFetchOptions, fetchJsonObject, RemoteDocumentError } from './bounded-fetch.js';

const loopbackAllowed = { allowLoopback: true, allowPrivate: true };
const publicOnly = { allowLoopback: false, allowPrivate: false };
// Long enough that a worker's first global fetch() (which loads undici: over 300 ms on a loaded
// 2-core machine) does not read as a timeout, short enough for the stall cases' 5 s bound.
let limits: BoundedFetchOptions = {
  timeoutMs: 2_000,
  maxResponseBytes: 1024,
  addressPolicy: loopbackAllowed,
};
let server: Server | undefined;
let requests = 0;

async function serve(listener: RequestListener): Promise<URL> {
  requests = 0;
  server = createServer((req, res) => {
    requests++;
    listener(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/doc`);
}

afterEach(async () => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function failure(url: URL, options = limits): Promise<string> {
  const error = await fetchJsonObject(url, options).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RemoteDocumentError);
  return (error as Error).message;
}

describe.each([
  ['with its own HTTP client', undefined],
  ['with a host-supplied fetch', (input: string, init: RequestInit) => fetch(input, init)],
])('fetchJsonObject %s', (_, hostFetch) => {
  beforeEach(() => {
    limits = { timeoutMs: 2_000, maxResponseBytes: 1024, addressPolicy: loopbackAllowed, fetch: hostFetch };
  });

  it('returns a JSON object', async () => {
    const url = await serve((_req, res) => res.end('{"issuer":"x"}'));
    await expect(fetchJsonObject(url, limits)).resolves.toEqual({ issuer: 'x' });
  });

  it('refuses to follow a redirect', async () => {
    const url = await serve((_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/' }).end());
    expect(await failure(url)).toMatch(/answered 302/);
  });

  it('refuses a declared length over the cap without reading the body', async () => {
    const url = await serve((_req, res) =>
      res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000)),
    );
    expect(await failure(url)).toMatch(/declared 5000 bytes/);
  });

  it('stops reading a chunked body once it passes the cap', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write('x'.repeat(512)), 5);
      res.on('close', () => clearInterval(timer));
    });
    expect(await failure(url)).toMatch(/exceeded 1024 bytes/);
  });

  it('gives up on a server that sends headers and then stalls', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":');
    });
    const started = Date.now();
    expect(await failure(url)).toMatch(/failed while reading/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it.each([
    ['an array', '[1,2]', /not return a JSON object/],
    ['null', 'null', /not return a JSON object/],
    ['HTML', '<html></html>', /did not return JSON/],
  ])('refuses %s', async (_, body, message) => {
    const url = await serve((_req, res) => res.end(body));
    expect(await failure(url)).toMatch(message);
  });

  it('refuses a loopback literal under a public-only policy without connecting', async () => {
    const url = await serve((_req, res) => res.end('{}'));
    expect(await failure(url, { ...limits, addressPolicy: publicOnly })).toMatch(
      /refused: a loopback address/,
    );
    expect(requests).toBe(0);
  });

  it('refuses a name that resolves to loopback under a public-only policy without connecting', async () => {
    const url = await serve((_req, res) => res.end('{}'));
    url.hostname = 'localhost';
    expect(await failure(url, { ...limits, addressPolicy: publicOnly })).toMatch(
      /localhost resolves to a loopback address/,
    );
    expect(requests).toBe(0);
  });

  it('refuses a metadata literal even when private addresses are allowed', async () => {
    expect(await failure(new URL('http://169.254.169.254/latest/meta-data/'))).toMatch(/link-local/);
    expect(await failure(new URL('http://[fd00:ec2::254]/latest/meta-data/'))).toMatch(/metadata/);
  });
});

describe('fetchJsonObject with a host-supplied fetch', () => {
  it('passes a deadline signal and manual redirects, and checks the host before calling it', async () => {
    const calls: RequestInit[] = [];
    const hostFetch = async (input: string, init: RequestInit) => {
      calls.push(init);
      return fetch(input, init);
    };
    const url = await serve((_req, res) => res.end('{"ok":true}'));
    await expect(fetchJsonObject(url, { ...limits, fetch: hostFetch })).resolves.toEqual({ ok: true });
    expect(calls).toEqual([expect.objectContaining({ redirect: 'manual', signal: expect.any(AbortSignal) })]);

    url.hostname = 'localhost';
    expect(await failure(url, { ...limits, addressPolicy: publicOnly, fetch: hostFetch })).toMatch(
      /loopback/,
    );
    expect(calls).toHaveLength(1);
  });

  it('keeps the deadline when the host fetch ignores the abort signal', async () => {
    const stuck = () => new Promise<Response>(() => {});
    const started = Date.now();
    expect(await failure(new URL('http://127.0.0.1:9/doc'), { ...limits, fetch: stuck })).toMatch(/failed/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
