import { StoreUnavailableError } from '@rialto-exchange/core';

/**
 * The part of a node-redis v5 client (`createClient()` from `redis` or `@redis/client`) the store
 * uses, so the store's types do not depend on the `redis` package. Replies are read in their RESP2
 * and RESP3 forms alike.
 *
 * @example
 * const client: RedisCommandClient = await createClient({ url }).connect();
 */
export interface RedisCommandClient {
  sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown>;
}

/**
 * The part of a node-redis v5 cluster client (`createCluster()` from `redis`) the store uses: a
 * command goes to the node that owns the hash slot of `firstKey`. The store passes the first key
 * of every command and script, and all keys of one call share a slot.
 *
 * @example
 * const cluster: RedisClusterCommandClient = await createCluster({ rootNodes: [{ url }] }).connect();
 */
export interface RedisClusterCommandClient {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: { timeout?: number },
  ): Promise<unknown>;
}

/**
 * Where the store's data lives: a URL or cluster nodes to connect to, or a connected client of the host's.
 *
 * @example
 * redisStore({ url: 'rediss://user:secret@redis.internal:6380/0' });
 * redisStore({ cluster: { rootNodes: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'] } });
 */
export type RedisConnection =
  /** `redis://` or `rediss://` URL; the store creates, connects (on first use) and closes the client. */
  | { url: string }
  /** A node-redis v5 client the host created and connected; the store never closes it. */
  | { client: RedisCommandClient }
  /**
   * A Redis Cluster: `redis://` or `rediss://` URLs of some of its nodes (the client discovers the
   * rest); the store creates, connects (on first use) and closes the cluster client.
   */
  | { cluster: { rootNodes: readonly string[] } }
  /** A node-redis v5 cluster client the host created and connected; the store never closes it. */
  | { clusterClient: RedisClusterCommandClient };

/** Sends one command; `firstKey` routes it on a cluster and is ignored otherwise. */
export type RedisSender = (
  firstKey: string | undefined,
  args: readonly string[],
  options: { timeout?: number } | undefined,
) => Promise<unknown>;

export interface Connector {
  ready(): Promise<RedisSender>;
  /** Whether commands go to a cluster: then only keys of one slot may share a call. */
  isCluster: boolean;
  /**
   * Whether a command can wait in the client to be written, as in node-redis's offline queue: then
   * it needs node-redis's own `timeout`, which drops it unwritten, so a call already reported as
   * failed never runs later. A client with the offline queue disabled fails such a call at once.
   */
  queuesUnwrittenCommands: boolean;
  /** Closes the connection the store opened; undefined for the host's client, which stays the host's. */
  close: (() => Promise<void>) | undefined;
}

const MAX_RECONNECT_DELAY_MS = 2_000;

interface OwnedClient {
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

const isRedisUrl = (url: unknown): url is string =>
  typeof url === 'string' && URL.canParse(url) && /^rediss?:$/.test(new URL(url).protocol);

/**
 * The root nodes of a `redis+cluster://` or `rediss+cluster://` URL: comma-separated host:port
 * pairs sharing one optional `user:password@`, e.g. `redis+cluster://user:pw@h1:7000,h2:7000`.
 * @throws TypeError without repeating the URL, which may hold a password
 */
export function clusterRootNodes(url: string): string[] {
  const match = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/i.exec(url);
  const nodes = match?.[3]?.split(',').filter((node) => node !== '') ?? [];
  const rootNodes = nodes.map(
    (node) => `${match?.[1]?.toLowerCase()}://${match?.[2] === undefined ? '' : `${match[2]}@`}${node}`,
  );
  if (rootNodes.length === 0 || !rootNodes.every(isRedisUrl)) {
    throw new TypeError(
      'redisStore: a cluster URL looks like redis+cluster://[user:password@]host1:port1,host2:port2',
    );
  }
  return rootNodes;
}

function hostClientConnector(send: RedisSender, client: unknown, isCluster: boolean): Connector {
  const options = (
    client as { options?: { disableOfflineQueue?: boolean; defaults?: { disableOfflineQueue?: boolean } } }
  ).options;
  const disablesOfflineQueue = isCluster
    ? options?.defaults?.disableOfflineQueue === true
    : options?.disableOfflineQueue === true;
  return {
    ready: async () => send,
    isCluster,
    queuesUnwrittenCommands: !disablesOfflineQueue,
    close: undefined,
  };
}

export function createConnector(connection: RedisConnection, connectTimeoutMs: number): Connector {
  if ('client' in connection) {
    const { client } = connection;
    if (typeof client?.sendCommand !== 'function') {
      throw new TypeError(
        'redisStore: `client` must be a node-redis v5 client (createClient() from `redis`)',
      );
    }
    return hostClientConnector((_, args, options) => client.sendCommand(args, options), client, false);
  }
  if ('clusterClient' in connection) {
    const { clusterClient } = connection;
    if (typeof clusterClient?.sendCommand !== 'function') {
      throw new TypeError(
        'redisStore: `clusterClient` must be a node-redis v5 cluster client (createCluster() from `redis`)',
      );
    }
    return hostClientConnector(
      (firstKey, args, options) => clusterClient.sendCommand(firstKey, false, [...args], options),
      clusterClient,
      true,
    );
  }
  const isCluster = 'cluster' in connection;
  const urls = isCluster ? [...(connection.cluster?.rootNodes ?? [])] : [(connection as { url: string }).url];
  if (urls.length === 0 || !urls.every(isRedisUrl)) {
    throw new TypeError(
      isCluster
        ? 'redisStore: `cluster.rootNodes` must be redis:// or rediss:// URLs of the cluster nodes'
        : 'redisStore: pass `{ url }` with a redis:// or rediss:// URL, `{ client }` with a node-redis client, or `{ cluster }`',
    );
  }
  const clientOptions = {
    // Fail calls at once while disconnected rather than queueing them behind an outage.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(2 ** retries * 50, MAX_RECONNECT_DELAY_MS),
    },
  };

  let client: OwnedClient | undefined;
  let connected: Promise<RedisSender> | undefined;
  let sender: RedisSender | undefined;
  let isClosed = false;

  async function open(): Promise<RedisSender> {
    const { createClient, createCluster } = await import('redis').catch((error: unknown) => {
      throw new Error('redisStore: `{ url }` and `{ cluster }` need the `redis` package (v5) installed', {
        cause: error,
      });
    });
    if (isClosed) throw new StoreUnavailableError('The Redis store has been closed.');
    let send: RedisSender;
    if (isCluster) {
      const cluster = createCluster({ rootNodes: urls.map((url) => ({ url })), defaults: clientOptions });
      client = cluster;
      send = (firstKey, args, options) => cluster.sendCommand(firstKey, false, [...args], options);
    } else {
      const single = createClient({ url: urls[0], ...clientOptions });
      client = single;
      send = (_, args, options) => single.sendCommand([...args], options);
    }
    // node-redis reports every failed (re)connection attempt here, and an 'error' event without a
    // listener would crash the process. The calls those failures affect reject on their own.
    client.on('error', () => {});
    await client.connect();
    sender = send;
    return send;
  }

  return {
    isCluster,
    queuesUnwrittenCommands: false,
    ready() {
      // Once connected, node-redis reconnects by itself: later calls skip the connect deadline.
      if (sender) return Promise.resolve(sender);
      connected ??= open();
      return connectedWithin(connected, connectTimeoutMs);
    },
    async close() {
      isClosed = true;
      const opened = client;
      client = undefined;
      sender = undefined;
      if (opened) await opened.close().catch(() => {});
    },
  };
}

/**
 * The connection, or StoreUnavailableError once `timeoutMs` has passed; node-redis keeps trying in
 * the background, so a later call may find it connected.
 */
function connectedWithin(connecting: Promise<RedisSender>, timeoutMs: number): Promise<RedisSender> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StoreUnavailableError(`Redis did not accept a connection within ${timeoutMs} ms.`)),
      timeoutMs,
    );
  });
  return Promise.race([connecting, timedOut]).finally(() => clearTimeout(timer));
}
