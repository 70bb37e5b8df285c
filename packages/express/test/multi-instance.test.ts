import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../storage-adapters/test/services.js';
import { ADMIN_TOKEN, idTokenClaims, type LocalIssuer, startLocalIssuer } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const LOOKUP_CACHE_TTL_SECONDS = 1;

interface Instance {
  process: ChildProcess;
  url: string;
}

/** Starts the store-switch example as a real process on a random port. */
async function startInstance(store: DisposableStore): Promise<Instance> {
  const child = spawn(
    process.execPath,
    ['--conditions=@rialto-exchange/source', '--import', 'tsx', 'examples/store-switch/server.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        PORT: '0',
        RIALTO_STORE: store.url,
        RIALTO_STORE_PREFIX: store.prefix?.keyPrefix ?? store.prefix?.tablePrefix ?? '',
        RIALTO_ISSUER: 'http://127.0.0.1:3000',
        RIALTO_ADMIN_TOKEN: ADMIN_TOKEN,
        RIALTO_ALLOW_INSECURE_ISSUERS: '1',
        RIALTO_ALLOW_PRIVATE_ISSUERS: '1',
        RIALTO_LOOKUP_CACHE_TTL_SECONDS: String(LOOKUP_CACHE_TTL_SECONDS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
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

async function call(
  instance: Instance,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
) {
  const response = await fetch(`${instance.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

describe.each(['redis', 'postgres'] as const)('two processes on one %s store', async (kind) => {
  if (!(await isServiceUp(...(SERVICE_OF[kind] as [string, string])))) return;

  let idp: LocalIssuer;
  let backing: DisposableStore;
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    backing = disposableStore(kind);
    // Both start at once on an empty store: they must agree on one signing key.
    [a, b] = await Promise.all([startInstance(backing), startInstance(backing)]);
  }, 60_000);
  afterAll(async () => {
    for (const instance of [a, b]) {
      instance?.process.kill('SIGTERM');
      if (instance && instance.process.exitCode === null) await once(instance.process, 'exit');
    }
    await idp.close();
    await backing.dispose();
  });

  const exchangeOn = async (instance: Instance, apiKey: string, sub: string) =>
    call(instance, 'POST', '/identity/auth/exchange', {
      headers: { 'x-api-key': apiKey },
      body: { token: await idp.sign(idTokenClaims(idp.issuer, { sub, email: `${sub}@example.com` })) },
    });

  it('agrees on one signing key after a simultaneous first start', async () => {
    const [jwksA, jwksB] = await Promise.all([
      call(a, 'GET', '/.well-known/jwks.json'),
      call(b, 'GET', '/.well-known/jwks.json'),
    ]);
    expect(jwksA.body).toEqual(jwksB.body);
    expect((jwksA.body as unknown as { keys: unknown[] }).keys).toHaveLength(1);
  });

  it('serves an organization registered on one instance from the other at once, and verifies its tokens', async () => {
    const registered = await call(a, 'POST', '/identity/organizations', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: { name: 'Acme', issuer: idp.issuer },
    });
    expect(registered.status).toBe(201);
    const minted = await exchangeOn(b, registered.body.api_key as string, 'ada');
    expect(minted.status).toBe(200);
    const userId = decodeJwt(minted.body.access_token as string).user_id as string;
    const onA = await call(a, 'GET', `/identity/users/${userId}`, {
      headers: { authorization: `Bearer ${minted.body.access_token}` },
    });
    expect(onA.status).toBe(200);
    expect(onA.body.email).toBe('ada@example.com');

    // A retry on the other instance gets the same successor; once that is used, a replay is refused everywhere.
    const refreshed = await call(a, 'POST', '/identity/auth/refresh', {
      body: { refresh_token: minted.body.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    const retried = await call(b, 'POST', '/identity/auth/refresh', {
      body: { refresh_token: minted.body.refresh_token },
    });
    expect(retried.status).toBe(200);
    expect(retried.body.refresh_token).toBe(refreshed.body.refresh_token);
    const next = await call(b, 'POST', '/identity/auth/refresh', {
      body: { refresh_token: refreshed.body.refresh_token },
    });
    expect(next.status).toBe(200);
    const replay = await call(a, 'POST', '/identity/auth/refresh', {
      body: { refresh_token: minted.body.refresh_token },
    });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('stops a key revoked on one instance on the other within the lookup cache bound', async () => {
    const registered = await call(a, 'POST', '/identity/organizations', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: { name: 'Globex', issuer: `${idp.issuer}/globex` },
    });
    const { org_id: orgId, api_key: apiKey, api_key_id: keyId } = registered.body as Record<string, string>;
    const warm = await call(b, 'POST', '/identity/auth/exchange', {
      headers: { 'x-api-key': apiKey as string },
      body: { token: 'x.y.z' },
    });
    expect(warm.body.error).toBe('invalid_token'); // the key was accepted; the token was not
    const revoked = await call(a, 'DELETE', `/identity/organizations/${orgId}/api-keys/${keyId}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(revoked.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, LOOKUP_CACHE_TTL_SECONDS * 1000 + 200));
    const after = await call(b, 'POST', '/identity/auth/exchange', {
      headers: { 'x-api-key': apiKey as string },
      body: { token: 'x.y.z' },
    });
    expect(after).toMatchObject({ status: 401, body: { error: 'invalid_api_key' } });
  });
});
