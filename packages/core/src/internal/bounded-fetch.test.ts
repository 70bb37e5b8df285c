import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchJsonObject, RemoteDocumentError } from './bounded-fetch.js';

const limits = { timeoutMs: 300, maxResponseBytes: 1024 };
let server: Server | undefined;

async function serve(listener: RequestListener): Promise<URL> {
  server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/doc`);
}

afterEach(async () => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function failure(url: URL): Promise<string> {
  const error = await fetchJsonObject(url, limits).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RemoteDocumentError);
  return (error as Error).message;
}

describe('fetchJsonObject', () => {
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
});
