import { createServer, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a real service, to cut the network under a store the way
 * an outage would, without touching the service other test files are using.
 */
export interface TcpProxy {
  /** `url` with its host and port replaced by the proxy's. */
  readonly url: string;
  /** Resets every proxied connection and resets new ones as soon as they arrive. */
  refuse(): void;
  /** Holds every byte either way, as a partitioned network does; connections stay open. */
  stall(): void;
  /**
   * Forwards until the client sends a chunk containing `marker` (a command or statement the test
   * waits for), then stalls from that chunk on, so exactly that command is held past the client's
   * deadline and runs on `restore()`, after the client has given up on it.
   * @param options.skip how many chunks with the marker to let through first
   * @returns settles once the marker was seen and held
   */
  stallOn(marker: string | Buffer, options?: { skip?: number }): Promise<void>;
  /** Forwards again: held bytes are delivered in order and new connections go through. */
  restore(): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket;
  held: Array<[Socket, Buffer]>;
}

export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  let mode: 'forward' | 'refuse' | 'stall' = 'forward';
  const links = new Set<Link>();
  let armed: { marker: Buffer; skip: number; onHeld: () => void } | undefined;

  const server = createServer((client) => {
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect({ host: target.hostname, port: Number(target.port) });
    const link: Link = { client, upstream, held: [] };
    links.add(link);
    const teardown = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('error', teardown).on('close', teardown);
      from.on('data', (chunk: Buffer) => {
        if (armed && from === client && chunk.includes(armed.marker) && armed.skip-- === 0) {
          mode = 'stall';
          armed.onHeld();
          armed = undefined;
        }
        if (mode === 'stall') link.held.push([to, chunk]);
        else to.write(chunk);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');

  const proxied = new URL(targetUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(address.port);

  function destroyAll() {
    for (const { client, upstream } of links) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    links.clear();
  }

  return {
    url: proxied.toString(),
    refuse() {
      mode = 'refuse';
      destroyAll();
    },
    stall() {
      mode = 'stall';
    },
    stallOn(marker, { skip = 0 } = {}) {
      return new Promise<void>((resolve) => {
        armed = { marker: Buffer.from(marker), skip, onHeld: resolve };
      });
    },
    restore() {
      mode = 'forward';
      armed = undefined;
      for (const link of links) {
        for (const [to, chunk] of link.held.splice(0)) to.write(chunk);
      }
    },
    async close() {
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
