import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RialtoError } from '@rialto-exchange/core';
import { afterEach, describe, expect, it } from 'vitest';
import { readBody } from '../src/read-body.js';

/**
 * The body reader on a real socket: bodies arriving in many chunks, a multi-byte character cut
 * between two of them, and a client that goes away half-way.
 */
describe('readBody', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    server?.close();
    server = undefined;
  });

  /** Starts a server whose handler hands each request's read outcome to `outcomes`. */
  async function serve(maxBytes: number): Promise<{ port: number; outcomes: Promise<unknown>[] }> {
    const outcomes: Promise<unknown>[] = [];
    server = createServer((req: IncomingMessage, res) => {
      const outcome = readBody(req, maxBytes);
      outcomes.push(outcome);
      outcome.then(
        () => res.end('ok'),
        () => res.end('refused'),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { port: (server.address() as AddressInfo).port, outcomes };
  }

  function post(port: number) {
    const outgoing = request({ host: '127.0.0.1', port, method: 'POST', path: '/' });
    outgoing.on('error', () => {});
    return outgoing;
  }

  it('joins a chunked body, a multi-byte character cut between chunks included', async () => {
    const { port, outcomes } = await serve(1024);
    const bytes = Buffer.from('{"name":"Ådå ✓"}', 'utf8');
    const cut = bytes.indexOf(Buffer.from('✓', 'utf8')) + 1; // inside the 3-byte character
    const outgoing = post(port);
    outgoing.write(bytes.subarray(0, cut));
    await new Promise((resolve) => setTimeout(resolve, 20));
    outgoing.end(bytes.subarray(cut));
    await once(outgoing, 'response');
    expect(await outcomes[0]).toBe('{"name":"Ådå ✓"}');
  });

  it('reads an empty body as an empty string', async () => {
    const { port, outcomes } = await serve(1024);
    const outgoing = post(port);
    outgoing.end();
    await once(outgoing, 'response');
    expect(await outcomes[0]).toBe('');
  });

  it('rejects with request_too_large once the chunks pass the limit', async () => {
    const { port, outcomes } = await serve(8);
    const outgoing = post(port);
    // Written in two parts, the request is chunked: no declared length to refuse up front.
    outgoing.write('01234');
    outgoing.end('56789');
    await once(outgoing, 'response');
    const error = await (outcomes[0] as Promise<unknown>).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RialtoError);
    expect(error).toMatchObject({ code: 'request_too_large' });
  });

  it('rejects, never hangs, when the client goes away before the end of the body', async () => {
    const { port, outcomes } = await serve(1024);
    const outgoing = post(port);
    outgoing.write('{"token":');
    await new Promise((resolve) => setTimeout(resolve, 50));
    outgoing.destroy();
    await expect.poll(() => outcomes.length).toBe(1);
    await expect(outcomes[0]).rejects.toThrow(/aborted|Premature close/);
  });
});
