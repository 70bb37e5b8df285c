/**
 * Where one exchange's CPU goes, in process and one call at a time (no HTTP, no concurrency, so
 * libuv-pool signing and main-thread work do not compete): the floor's steps with `jose`, the
 * same steps the way the library does them, a memory store's calls, and `exchange.handle()` whole,
 * without and with Prometheus metrics.
 * CPU time is the process's (main thread and libuv pool), per call.
 *
 *   node --conditions=@rialto-exchange/source --import tsx bench/breakdown.ts
 *   node --cpu-prof --cpu-prof-dir=bench/results/profiles/breakdown --conditions=@rialto-exchange/source \
 *     --import tsx bench/breakdown.ts handle   # only the measurements whose name starts with "handle"
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import {
  type CryptoKey,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { Registry } from 'prom-client';
import { startIdp } from './lib/idp.js';
import { inProcessExchange } from './lib/in-process-exchange.js';
import { EXCHANGE_PATH, SERVICE_ISSUER } from './lib/protocol.js';

const ITERATIONS = Number(process.env.BENCH_BREAKDOWN_ITERATIONS ?? 2000);
const only = process.argv[2];

const ROUNDS = 5;

/**
 * Runs `operation` ITERATIONS times in ROUNDS rounds and prints the cheapest round's CPU and wall
 * time per call: other processes on a shared machine can only add time, so the minimum is the
 * steadiest estimate.
 */
async function measure(name: string, operation: (i: number) => Promise<unknown> | unknown): Promise<void> {
  if (only !== undefined && !name.startsWith(only)) return;
  for (let i = 0; i < 300; i++) await operation(i);
  const perRound = Math.ceil(ITERATIONS / ROUNDS);
  let best = { cpu: Number.POSITIVE_INFINITY, wall: Number.POSITIVE_INFINITY };
  for (let round = 0; round < ROUNDS; round++) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < perRound; i++) await operation(round * perRound + i);
    const wall = ((performance.now() - started) * 1000) / perRound;
    const used = process.cpuUsage(cpu);
    const cpuMicros = (used.user + used.system) / perRound;
    if (cpuMicros < best.cpu) best = { cpu: cpuMicros, wall };
  }
  console.log(
    `${best.cpu.toFixed(1).padStart(8)} µs CPU ${best.wall.toFixed(1).padStart(8)} µs wall  ${name}`,
  );
}

const idp = await startIdp('breakdown');
const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => idp.idToken(i)));
const bodies = tokens.map((token) => JSON.stringify({ token }));
const pick = <T>(list: readonly T[], i: number) => list[i % list.length] as T;

// The floor's keys, imported once.
const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: JWK[] };
const idpJwk = jwks.keys[0] as JWK;
const idpKey = (await importJWK(idpJwk, 'RS256')) as CryptoKey;
const localJwks = createLocalJWKSet({ keys: [idpJwk] });
const { privateKey: accessKey } = await generateKeyPair('RS256');
const secretBytes = randomBytes(32);
const hmacKey = await crypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
  'sign',
]);
const verifyOptions = { issuer: idp.issuer, algorithms: ['RS256'], clockTolerance: 30 };
const accessClaims = () => ({
  iss: SERVICE_ISSUER,
  sub: randomUUID(),
  aud: ['identity'],
  iat: 1,
  exp: 301,
  jti: randomUUID(),
  scope: 'openid email profile aud:identity',
  org_id: randomUUID(),
  org_name: 'Bench Partner',
  user_id: randomUUID(),
  email: 'user@bench.example',
  onboarding_completed: false,
  kyc_completed: false,
  accredited: false,
  accreditation_verified: false,
});
const refreshClaims = () => ({
  fid: randomUUID(),
  org_id: 'x',
  sub: 'y',
  jti: randomUUID(),
  iat: 1,
  exp: 1801,
});

console.log(
  `${ITERATIONS} sequential calls each in ${ROUNDS} rounds after 300 to warm up; the cheapest round per call\n`,
);
console.log('jose primitives:');
await measure('jwtVerify RS256, imported CryptoKey', (i) =>
  jwtVerify(pick(tokens, i), idpKey, verifyOptions),
);
await measure('jwtVerify RS256, createLocalJWKSet', (i) =>
  jwtVerify(pick(tokens, i), localJwks, verifyOptions),
);
await measure('decodeProtectedHeader + decodeJwt', (i) => {
  decodeProtectedHeader(pick(tokens, i));
  return decodeJwt(pick(tokens, i));
});
await measure('SignJWT RS256 (access token)', () =>
  new SignJWT(accessClaims()).setProtectedHeader({ alg: 'RS256', kid: 'a', typ: 'at+jwt' }).sign(accessKey),
);
await measure('SignJWT HS256, HMAC CryptoKey imported once', () =>
  new SignJWT(refreshClaims()).setProtectedHeader({ alg: 'HS256', kid: 'r' }).sign(hmacKey),
);
await measure('SignJWT HS256, Uint8Array secret (imported per call)', () =>
  new SignJWT(refreshClaims()).setProtectedHeader({ alg: 'HS256', kid: 'r' }).sign(secretBytes),
);

console.log('\nthe floor, without HTTP:');
const apiKey = `rialto_ak_${randomUUID()}_${randomBytes(32).toString('base64url')}`;
const keys = new Map([[createHash('sha256').update(apiKey).digest('hex'), { orgId: 'org' }]]);
const users = new Map<string, { userId: string; email: string }>();
await measure('floor exchange (hash+Map, parse, verify, find-or-create, 2 signs, stringify)', async (i) => {
  keys.get(createHash('sha256').update(apiKey).digest('hex'));
  const { token } = JSON.parse(pick(bodies, i)) as { token: string };
  const { payload } = await jwtVerify(token, idpKey, verifyOptions);
  const identity = `org ${payload.sub}`;
  let user = users.get(identity);
  if (!user) {
    user = { userId: randomUUID(), email: payload.email as string };
    users.set(identity, user);
  }
  const signed = await Promise.all([
    new SignJWT(accessClaims()).setProtectedHeader({ alg: 'RS256', kid: 'a', typ: 'at+jwt' }).sign(accessKey),
    new SignJWT(refreshClaims()).setProtectedHeader({ alg: 'HS256', kid: 'r' }).sign(hmacKey),
  ]);
  return JSON.stringify(signed);
});

console.log('\nmemory store calls:');
const store = memoryStore();
const orgId = randomUUID();
await measure('memoryStore.findOrCreateUser (existing user)', (i) =>
  store.findOrCreateUser({
    orgId,
    iss: idp.issuer,
    sub: `subject-${i % 1000}`,
    email: `user${i % 1000}@bench.example`,
    mayLinkByEmail: true,
    newUser: {
      userId: randomUUID(),
      orgId,
      email: `user${i % 1000}@bench.example`,
      role: 'member',
      onboardingCompleted: false,
      kycStatus: 'not_started',
      accreditationStatus: 'not_submitted',
      createdAt: 1,
      updatedAt: 1,
    },
    now: 1,
  }),
);
await measure('memoryStore.saveRefreshToken', () =>
  store.saveRefreshToken({
    jti: randomUUID(),
    familyId: randomUUID(),
    orgId,
    userId: 'u',
    issuedAt: 1e9,
    expiresAt: 2e9,
    kid: 'k',
  }),
);

console.log('\nrialto-exchange, exchange.handle() without HTTP (memory store):');
const exchange = inProcessExchange();
const { apiKey: rialtoKey } = await exchange.registerOrganization({
  name: 'Bench Partner',
  issuer: idp.issuer,
});
await measure('handle', async (i) => {
  const response = await exchange.handle({
    method: 'POST',
    path: EXCHANGE_PATH,
    headers: { 'content-type': 'application/json', 'x-api-key': rialtoKey },
    body: pick(bodies, i),
    ip: '127.0.0.1',
  });
  if (response?.status !== 200) throw new Error(`handle answered ${response?.status}`);
  return JSON.stringify(response.body);
});

// The same with Prometheus metrics recorded (the OpenTelemetry hooks are in both, no SDK): the
// issue bounds their cost at 3 % of memory-store throughput.
const measured = inProcessExchange({ metrics: { registry: new Registry() } });
const { apiKey: measuredKey } = await measured.registerOrganization({
  name: 'Bench Partner',
  issuer: idp.issuer,
});
await measure('handle, metrics on', async (i) => {
  const response = await measured.handle({
    method: 'POST',
    path: EXCHANGE_PATH,
    headers: { 'content-type': 'application/json', 'x-api-key': measuredKey },
    body: pick(bodies, i),
    ip: '127.0.0.1',
  });
  if (response?.status !== 200) throw new Error(`handle answered ${response?.status}`);
  return JSON.stringify(response.body);
});

await idp.close();
