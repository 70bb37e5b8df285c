import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../storage-adapters/test/services.js';
import { ADMIN_TOKEN, idTokenClaims, type LocalIssuer, startLocalIssuer } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
// One admission a minute once the burst is spent: the whole run fits inside one interval even on
// a loaded machine, so exactly `limit` requests may pass however the two processes interleave.
const PER_ORGANIZATION = { limit: 10, windowSeconds: 600 };
const REQUESTS = 40;

interface Instance {
  process: ChildProcess;
  url: string;
}

async function startInstance(store: DisposableStore): Promise<Instance> {
  const prefix = store.prefix?.keyPrefix ?? store.prefix?.tablePrefix ?? '';
  const child = spawn(
    process.execPath,
    [
      '--conditions=@rialto-exchange/source',
      '--import',
      'tsx',
      'packages/express/test/rate-limited-instance.ts',
      store.url as string,
      prefix,
      JSON.stringify(PER_ORGANIZATION),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    output += chunk;
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match) return { process: child, url: match[1] as string };
  }
  throw new Error(`instance exited before listening:\n${output}`);
}

describe.each(['redis', 'postgres'] as const)('two processes sharing one %s store', async (kind) => {
  if (!(await isServiceUp(...(SERVICE_OF[kind] as [string, string])))) return;

  let idp: LocalIssuer;
  let backing: DisposableStore;
  let instances: Instance[] = [];

  beforeAll(async () => {
    idp = await startLocalIssuer();
    backing = disposableStore(kind);
    instances = await Promise.all([startInstance(backing), startInstance(backing)]);
  }, 60_000);
  afterAll(async () => {
    for (const instance of instances) {
      instance.process.kill('SIGTERM');
      if (instance.process.exitCode === null) await once(instance.process, 'exit');
    }
    await idp.close();
    await backing.dispose();
  });

  it(`admit exactly ${PER_ORGANIZATION.limit} of ${REQUESTS} exchanges of one organization sent to both at once; the rest get 429 with Retry-After`, async () => {
    const [a, b] = instances as [Instance, Instance];
    const registered = await fetch(`${a.url}/identity/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Acme', issuer: idp.issuer }),
    });
    expect(registered.status).toBe(201);
    const { api_key: apiKey } = (await registered.json()) as { api_key: string };
    const tokens = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) => idp.sign(idTokenClaims(idp.issuer, { sub: `user-${i}` }))),
    );

    const responses = await Promise.all(
      tokens.map(async (token, i) => {
        const response = await fetch(`${(i % 2 === 0 ? a : b).url}/identity/auth/exchange`, {
          method: 'POST',
          headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
          body: JSON.stringify({ token }),
        });
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: (await response.json()) as Record<string, unknown>,
        };
      }),
    );

    expect(responses.filter((response) => response.status === 200)).toHaveLength(PER_ORGANIZATION.limit);
    const refused = responses.filter((response) => response.status !== 200);
    expect(refused).toHaveLength(REQUESTS - PER_ORGANIZATION.limit);
    for (const response of refused) {
      expect(response.status).toBe(429);
      expect(Object.keys(response.body).sort()).toEqual(['error', 'error_description']);
      expect(response.body.error).toBe('rate_limited');
      expect(Number(response.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(response.retryAfter)).toBeLessThanOrEqual(PER_ORGANIZATION.windowSeconds);
    }
    // Both processes admitted and refused some: the limit is one budget, not one per process.
    const servedBy = (parity: number) => responses.filter((_, i) => i % 2 === parity).map((r) => r.status);
    expect(servedBy(0)).toContain(429);
    expect(servedBy(1)).toContain(429);
  });
});
