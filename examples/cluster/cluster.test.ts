import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  idTokenClaims,
  type LocalIssuer,
  startLocalIssuer,
} from '../../packages/express/test/helpers.js';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
} from '../../packages/storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../packages/storage-adapters/test/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function startCluster(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(
    process.execPath,
    ['--conditions=@rialto-exchange/source', '--import', 'tsx', 'examples/cluster/server.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        PORT: '0',
        RIALTO_ISSUER: 'http://127.0.0.1:3000',
        RIALTO_ADMIN_TOKEN: ADMIN_TOKEN,
        RIALTO_ALLOW_INSECURE_ISSUERS: '1',
        RIALTO_ALLOW_PRIVATE_ISSUERS: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  return { child, output: () => output };
}

/** One request on a connection of its own, so the primary hands each to the next worker. */
function call(
  url: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const sent = request(
      `${url}${path}`,
      { method, agent: false, headers: { 'content-type': 'application/json', ...options.headers } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    sent.on('error', reject);
    sent.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}

describe('examples/cluster', () => {
  it('refuses a store its processes would not share, before forking', async () => {
    const { child, output } = startCluster({ RIALTO_STORE: 'memory:' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toContain('Set RIALTO_STORE to a store every process shares');
    expect(output()).not.toContain('listening on');
  }, 30_000);

  describe('two workers on one Redis store', async () => {
    if (!(await isServiceUp(...(SERVICE_OF.redis as [string, string])))) return;
    let idp: LocalIssuer;
    let backing: DisposableStore;
    let cluster: ReturnType<typeof startCluster>;
    let url: string;

    beforeAll(async () => {
      idp = await startLocalIssuer();
      backing = disposableStore('redis');
      cluster = startCluster({
        RIALTO_STORE: backing.url as string,
        RIALTO_STORE_PREFIX: backing.prefix?.keyPrefix ?? '',
        WEB_CONCURRENCY: '2',
      });
      // Each worker says where it listens: both on the one port the primary shares out.
      while ((cluster.output().match(/listening on/g) ?? []).length < 2) {
        if (cluster.child.exitCode !== null) throw new Error(`the cluster exited:\n${cluster.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const urls = new Set(cluster.output().match(/http:\/\/127\.0\.0\.1:\d+/g));
      expect(urls.size).toBe(1);
      url = [...urls][0] as string;
    }, 90_000);
    afterAll(async () => {
      if (cluster && cluster.child.exitCode === null) {
        cluster.child.kill('SIGTERM');
        await once(cluster.child, 'exit');
      }
      await idp?.close();
      await backing?.dispose();
    });

    it('answers as one service on every worker, and stops on SIGTERM', async () => {
      const registered = await call(url, 'POST', '/identity/organizations', {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        body: { name: 'Acme', issuer: idp.issuer },
      });
      expect(registered.status).toBe(201);
      // Connections go to the workers in turn: the same identity is one user whichever answers.
      const userIds = new Set<string>();
      for (let attempt = 0; attempt < 6; attempt++) {
        const minted = await call(url, 'POST', '/identity/auth/exchange', {
          headers: { 'x-api-key': registered.body.api_key as string },
          body: {
            token: await idp.sign(idTokenClaims(idp.issuer, { sub: 'ada', email: 'ada@example.com' })),
          },
        });
        expect(minted.status).toBe(200);
        userIds.add(decodeJwt(minted.body.access_token as string).user_id as string);
      }
      expect(userIds.size).toBe(1);

      cluster.child.kill('SIGTERM');
      const [code] = await once(cluster.child, 'exit');
      expect(code).toBe(0);
    }, 60_000);
  });
});
