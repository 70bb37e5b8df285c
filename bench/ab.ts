/**
 * A/B of two checkouts of this workspace in one process: the same exchanges, alternating between
 * A and B in many short rounds, so whatever else the machine does weighs on both alike. It
 * reports CPU per exchange (main thread and libuv pool, where WebCrypto signs); the quartile of
 * the rounds is the figure to read, as other processes can only add time.
 *
 * Use it to check a proposed change before the full bench: copy the workspace, apply the change
 * to the copy, and compare.
 *
 *   cp -a . /tmp/rialto-b && (cd /tmp/rialto-b && git apply change.diff)
 *   node --conditions=@rialto-exchange/source --import tsx bench/ab.ts . /tmp/rialto-b
 *   … --mode express   # through Express, the binding and loopback HTTP (client CPU included, alike)
 *   … --mode bare      # exchange.handle() behind a bare node:http server, for comparison
 *   … --store redis    # or sqlite, postgres (local services as in stores.ts); default memory
 *   … --wall           # wall time instead of CPU (e.g. for fsync)
 *
 * Either side may be `floor` instead of a checkout: the floor's work, in process.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, type RequestListener, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import express from 'express';
import { type CryptoKey, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { startIdp } from './lib/idp.js';
import { EXCHANGE_PATH, ORG_NAME, SCOPE, SERVICE_ISSUER } from './lib/protocol.js';
import { deleteRedisKeys, dropPostgresTables, POSTGRES_URL, REDIS_URL } from './targets/stores.js';

type Exchange = (index: number) => Promise<void>;

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? (args.splice(at, 2)[1] ?? fallback) : fallback;
};
const flag = (name: string) => {
  const at = args.indexOf(`--${name}`);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
};
const mode = option('mode', 'handle');
const storeKind = option('store', 'memory');
const rounds = Number(option('rounds', '40'));
const perRound = Number(option('per-round', '150'));
const wall = flag('wall');
const [specA = '.', specB = '.'] = args;

const idp = await startIdp('ab');
const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => idp.idToken(i)));
const bodies = tokens.map((token) => JSON.stringify({ token }));
const body = (index: number) => bodies[index % bodies.length] as string;
const cleanups: Array<() => Promise<void> | void> = [];
const UNREACHABLE = { limit: 1_000_000_000, windowSeconds: 1 };

async function makeStore(root: string) {
  const adapters = await import(resolve(root, 'packages/storage-adapters/src/index.ts'));
  const unique = randomUUID().slice(0, 8);
  switch (storeKind) {
    case 'redis': {
      const keyPrefix = `rialto-ab:${unique}:`;
      const store = adapters.redisStore({ url: REDIS_URL }, { keyPrefix });
      cleanups.push(async () => {
        await store.close();
        await deleteRedisKeys(keyPrefix);
      });
      return store;
    }
    case 'postgres': {
      const tablePrefix = `rialto_ab_${unique}_`;
      const store = adapters.sqlStore({ dialect: 'postgres', connectionString: POSTGRES_URL, tablePrefix });
      cleanups.push(async () => {
        await store.close();
        await dropPostgresTables(tablePrefix);
      });
      return store;
    }
    case 'sqlite': {
      const directory = mkdtempSync(join(tmpdir(), 'rialto-ab-'));
      const store = adapters.sqlStore({ dialect: 'sqlite', filename: join(directory, 'ab.sqlite') });
      cleanups.push(async () => {
        await store.close();
        rmSync(directory, { recursive: true, force: true });
      });
      return store;
    }
    default:
      return adapters.memoryStore();
  }
}

async function checkout(root: string): Promise<Exchange> {
  const store = await makeStore(root);
  const options = { issuer: SERVICE_ISSUER, store, allowInsecureIssuers: true, allowPrivateIssuers: true };
  const limits = { rateLimit: { perIp: UNREACHABLE, perOrganization: UNREACHABLE } };
  if (mode === 'handle' || mode === 'bare') {
    const core = await import(resolve(root, 'packages/core/src/index.ts'));
    const exchange = core.createRialtoExchange({ ...options, ...limits });
    const { apiKey } = await exchange.registerOrganization({ name: ORG_NAME, issuer: idp.issuer });
    const handle = async (text: string, ip?: string) => {
      const response = await exchange.handle({
        method: 'POST',
        path: EXCHANGE_PATH,
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: text,
        ip: ip ?? '127.0.0.1',
      });
      if (response?.status !== 200) throw new Error(`exchange answered ${response?.status}`);
      return response;
    };
    if (mode === 'handle') {
      return async (index) => {
        JSON.stringify((await handle(body(index))).body);
      };
    }
    return serve(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      const response = await handle(Buffer.concat(chunks).toString('utf8'), req.socket.remoteAddress);
      const payload = JSON.stringify(response.body);
      res.writeHead(response.status, {
        ...response.headers,
        'content-type': 'application/json; charset=utf-8',
      });
      res.end(payload);
    }, apiKey);
  }
  const binding = await import(resolve(root, 'packages/express/src/index.ts'));
  const router = binding.rialtoExchange({ ...options, ...limits });
  const { apiKey } = await router.exchange.registerOrganization({ name: ORG_NAME, issuer: idp.issuer });
  const app = express();
  app.use(router);
  return serve(app, apiKey);
}

/** Serves `listener` on loopback and returns one sequential client request per exchange. */
async function serve(listener: RequestListener, apiKey: string): Promise<Exchange> {
  const server = createServer(listener).listen(0, '127.0.0.1');
  await new Promise((ready) => server.once('listening', ready));
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  cleanups.push(() => {
    agent.destroy();
    server.close();
  });
  return (index) =>
    new Promise<void>((done, fail) => {
      const payload = Buffer.from(body(index));
      const headers = {
        'content-type': 'application/json',
        'x-api-key': apiKey,
        'content-length': payload.length,
      };
      const call = request(
        { host: '127.0.0.1', port, path: EXCHANGE_PATH, method: 'POST', agent, headers },
        (res) => {
          if (res.statusCode !== 200) fail(new Error(`exchange answered ${res.statusCode}`));
          res.resume();
          res.on('end', done);
        },
      );
      call.on('error', fail);
      call.end(payload);
    });
}

/** The floor's work (targets/floor-work.ts) as a function: the same steps, no HTTP. */
async function floor(): Promise<Exchange> {
  const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: JWK[] };
  const idpKey = (await importJWK(jwks.keys[0] as JWK, 'RS256')) as CryptoKey;
  const { privateKey } = await generateKeyPair('RS256');
  const hmacKey = await crypto.subtle.importKey(
    'raw',
    randomBytes(32),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const orgId = randomUUID();
  const apiKey = `rialto_ak_${orgId}_${randomBytes(32).toString('base64url')}`;
  const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
  const orgs = new Map([[sha256(apiKey), { orgId }]]);
  const users = new Map<string, { userId: string; email: string }>();
  const verifyOptions = { issuer: idp.issuer, algorithms: ['RS256'], clockTolerance: 30 };
  return async (index) => {
    const org = orgs.get(sha256(apiKey)) as { orgId: string };
    const { token } = JSON.parse(body(index)) as { token: string };
    const { payload } = await jwtVerify(token, idpKey, verifyOptions);
    const identity = `${org.orgId} ${payload.sub}`;
    let user = users.get(identity);
    if (!user) {
      user = { userId: randomUUID(), email: payload.email as string };
      users.set(identity, user);
    }
    const now = Math.floor(Date.now() / 1000);
    const [accessToken, refreshToken] = await Promise.all([
      new SignJWT({
        iss: SERVICE_ISSUER,
        sub: user.userId,
        aud: ['identity'],
        iat: now,
        exp: now + 300,
        jti: randomUUID(),
        scope: SCOPE,
        org_id: org.orgId,
        org_name: ORG_NAME,
        user_id: user.userId,
        email: user.email,
        onboarding_completed: false,
        kyc_completed: false,
        accredited: false,
        accreditation_verified: false,
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'floor', typ: 'at+jwt' })
        .sign(privateKey),
      new SignJWT({
        fid: randomUUID(),
        org_id: org.orgId,
        iss: SERVICE_ISSUER,
        sub: user.userId,
        jti: randomUUID(),
      })
        .setProtectedHeader({ alg: 'HS256', kid: 'floor', typ: 'JWT' })
        .sign(hmacKey),
    ]);
    JSON.stringify({ access_token: accessToken, refresh_token: refreshToken });
  };
}

const side = (spec: string) => (spec === 'floor' ? floor() : checkout(spec));
const sides = { A: await side(specA), B: await side(specB) };
let next = 0;
for (const run of Object.values(sides)) for (let i = 0; i < 1000; i++) await run(next++);

const samples: Record<'A' | 'B', number[]> = { A: [], B: [] };
for (let round = 0; round < rounds; round++) {
  for (const name of round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < perRound; i++) await sides[name](next++);
    const used = process.cpuUsage(cpu);
    samples[name].push(
      wall ? ((performance.now() - started) * 1000) / perRound : (used.user + used.system) / perRound,
    );
  }
}

const quantiles = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.floor(q * (sorted.length - 1))] as number;
  return { q1: at(0.25), median: at(0.5) };
};
const a = quantiles(samples.A);
const b = quantiles(samples.B);
const what = `${wall ? 'wall' : 'CPU'} µs per exchange (${mode}, ${storeKind} store, ${rounds} × ${perRound} each)`;
console.log(what);
console.log(`  A ${specA}: quartile ${a.q1.toFixed(0)}, median ${a.median.toFixed(0)}`);
console.log(`  B ${specB}: quartile ${b.q1.toFixed(0)}, median ${b.median.toFixed(0)}`);
console.log(`  B - A: quartile ${(b.q1 - a.q1).toFixed(0)}, median ${(b.median - a.median).toFixed(0)}`);
for (const cleanup of cleanups) await cleanup();
await idp.close();
