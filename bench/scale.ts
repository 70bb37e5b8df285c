/**
 * `pnpm bench:scale` (opt-in, never part of `pnpm bench` or CI): does exchange latency hold as the
 * store fills up?
 *
 * - Users axis, per store (PostgreSQL, Redis): two rialto targets on the same store kind, one
 *   seeded with BENCH_SCALE_SMALL users (10,000), one with BENCH_SCALE_LARGE (1,000,000), seeded
 *   straight into the store's tables / keys (bench/lib/seed.ts). The load exchanges ID tokens of
 *   BENCH_SCALE_POOL seeded users picked at random across the whole seeded range, so every request
 *   finds an existing user; the two targets run in interleaved rounds.
 * - Organizations axis (memory store): a target with 1 registered organization against one with
 *   BENCH_SCALE_ORGS (1,000), the load on one of them.
 *
 * Environment: BENCH_SCALE_SMALL, BENCH_SCALE_LARGE, BENCH_SCALE_POOL (2000), BENCH_SCALE_ORGS (1000),
 * BENCH_SCALE_STORES (postgres,redis), BENCH_SCALE_AXES (users,orgs), BENCH_DURATION_SECONDS (20 per
 * target), BENCH_ROUNDS (8), BENCH_CONNECTIONS (50). Results: bench/results/scale.json and the
 * scale block of bench/README.md.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { type LocalIdp, startIdp } from './lib/idp.js';
import { type LoadResult, runLoad } from './lib/load.js';
import { ENV_ISSUERS, ENV_STORE, EXCHANGE_PATH, type TokenResponseBody } from './lib/protocol.js';
import { median } from './lib/report.js';
import {
  deleteRedisPrefix,
  replaceBlock,
  sampleIndices,
  seededUserId,
  seedPostgres,
  seedRedis,
} from './lib/seed.js';
import { type RunningTarget, startTarget } from './lib/target.js';
import { dropPostgresTables, POSTGRES_URL, REDIS_URL } from './targets/stores.js';

const small = Number(process.env.BENCH_SCALE_SMALL ?? 10_000);
const large = Number(process.env.BENCH_SCALE_LARGE ?? 1_000_000);
const poolSize = Number(process.env.BENCH_SCALE_POOL ?? 2_000);
const orgCount = Number(process.env.BENCH_SCALE_ORGS ?? 1_000);
const stores = (process.env.BENCH_SCALE_STORES ?? 'postgres,redis').split(',').map((s) => s.trim());
const axes = (process.env.BENCH_SCALE_AXES ?? 'users,orgs').split(',').map((s) => s.trim());
const durationSeconds = Number(process.env.BENCH_DURATION_SECONDS ?? 20);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 8));
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

interface Variant {
  label: string;
  /** Users or organizations in the store. */
  size: number;
  target: RunningTarget;
  apiKey: string;
  bodies: string[];
  seedSeconds?: number;
  cleanup: () => Promise<void>;
  rounds: LoadResult[];
}

interface Comparison {
  axis: 'users' | 'orgs';
  store: string;
  variants: {
    label: string;
    size: number;
    seedSeconds?: number;
    requestsPerSecond: number;
    p50: number;
    p99: number;
    errors: number;
    non2xx: number;
    rounds: { requestsPerSecond: number; p50: number; p99: number }[];
  }[];
  /** p50 of the larger variant over the smaller one (median of the per-round ratios). */
  p50Ratio: number;
  requestsPerSecondRatio: number;
}

async function signBodies(idp: LocalIdp, indices: number[]): Promise<string[]> {
  const bodies: string[] = [];
  for (let start = 0; start < indices.length; start += 100) {
    const batch = indices.slice(start, start + 100).map((index) => idp.idToken(index));
    for (const token of await Promise.all(batch)) bodies.push(JSON.stringify({ token }));
  }
  return bodies;
}

/** Exchanges a few pool tokens and checks they came back as the seeded users (found, not created). */
async function checkSeeded(target: RunningTarget, apiKey: string, idp: LocalIdp, indices: number[]) {
  for (const index of indices) {
    const response = await fetch(`${target.url}${EXCHANGE_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ token: await idp.idToken(index) }),
    });
    if (response.status !== 200) throw new Error(`seeded user ${index}: status ${response.status}`);
    const body = (await response.json()) as TokenResponseBody;
    const payload = JSON.parse(
      Buffer.from(body.access_token.split('.')[1] as string, 'base64url').toString(),
    );
    if (payload.sub !== seededUserId(index)) {
      throw new Error(
        `seeded user ${index}: got user ${payload.sub}, expected the seeded ${seededUserId(index)}`,
      );
    }
  }
}

async function seededVariant(store: string, idp: LocalIdp, size: number): Promise<Variant> {
  const unique = randomUUID().slice(0, 8);
  const target = await startTarget({
    script: 'rialto.ts',
    env: { [ENV_ISSUERS]: JSON.stringify([idp.issuer]), [ENV_STORE]: store, BENCH_STORE_UNIQUE: unique },
  });
  const org = target.orgs[0];
  if (!org) {
    await target.stop();
    throw new Error('the target registered no organization');
  }
  const label = `${store} ${size.toLocaleString('en')} users`;
  const started = performance.now();
  const progress = (done: number) =>
    log(
      `   ${label}: ${done.toLocaleString('en')} seeded (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  if (store !== 'postgres' && store !== 'redis') {
    await target.stop();
    throw new Error(`store ${store}: seeding is written for postgres and redis only`);
  }
  const tablePrefix = `rialto_bench_${unique}_`;
  const keyPrefix = `rialto-bench:${unique}:`;
  const cleanup = async () => {
    await target.stop();
    if (store === 'postgres') await dropPostgresTables(tablePrefix);
    else await deleteRedisPrefix(REDIS_URL, keyPrefix);
  };
  // A variant that fails before it is returned is cleaned up here: its caller never sees it, and a
  // target left running would keep this process alive.
  try {
    const seed = { orgId: org.orgId, issuer: idp.issuer, count: size, onProgress: progress };
    if (store === 'postgres') await seedPostgres({ url: POSTGRES_URL, tablePrefix, ...seed });
    else await seedRedis({ url: REDIS_URL, keyPrefix, ...seed });
    const seedSeconds = (performance.now() - started) / 1000;
    log(`   ${label}: seeded in ${seedSeconds.toFixed(1)} s`);
    const indices = sampleIndices(size, poolSize, size);
    await checkSeeded(target, org.apiKey, idp, [0, size - 1, ...indices.slice(0, 5)]);
    log(`   ${label}: sample exchanges found the seeded users (access token sub = seeded user id)`);
    return {
      label,
      size,
      target,
      apiKey: org.apiKey,
      bodies: await signBodies(idp, indices),
      seedSeconds,
      cleanup,
      rounds: [],
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

async function orgVariant(idp: LocalIdp, count: number, userIndices: number[]): Promise<Variant> {
  // The other organizations' issuers are never contacted: registering them is all they do. IP
  // literals, because registration resolves a name's addresses: this machine's resolver left about
  // one query in 25 unanswered, and each such one waits out its 5 s deadline.
  const others = Array.from({ length: count - 1 }, (_, i) => `https://127.0.0.1/bench-org-${i}`);
  const target = await startTarget({
    script: 'rialto.ts',
    env: { [ENV_ISSUERS]: JSON.stringify([idp.issuer, ...others]), [ENV_STORE]: 'memory' },
  });
  const org = target.orgs.find((candidate) => candidate.issuer === idp.issuer);
  if (!org) {
    await target.stop();
    throw new Error('the target did not register the partner issuer');
  }
  return {
    label: `memory ${count.toLocaleString('en')} org${count === 1 ? '' : 's'}`,
    size: count,
    target,
    apiKey: org.apiKey,
    bodies: await signBodies(idp, userIndices),
    cleanup: () => target.stop(),
    rounds: [],
  };
}

async function compare(axis: 'users' | 'orgs', store: string, variants: Variant[]): Promise<Comparison> {
  for (const variant of variants) {
    const warmup = await runLoad({
      url: variant.target.url,
      apiKey: variant.apiKey,
      bodies: variant.bodies,
      connections,
      amount: variant.bodies.length,
    });
    log(
      `   ${variant.label}: warm-up ${warmup.requests} exchanges, ${warmup.errors} errors, ${warmup.non2xx} non-2xx`,
    );
  }
  const seconds = durationSeconds / rounds;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    const line: string[] = [];
    for (const variant of order) {
      const load = await runLoad({
        url: variant.target.url,
        apiKey: variant.apiKey,
        bodies: variant.bodies,
        connections,
        durationSeconds: seconds,
      });
      variant.rounds.push(load);
      line.push(`${variant.label} ${load.requestsPerSecond.toFixed(0)}/s p50 ${load.latencyMs.p50} ms`);
    }
    log(`   round ${round + 1}: ${line.join(', ')}`);
  }
  const [smaller, larger] = variants as [Variant, Variant];
  const perRound = (pick: (load: LoadResult) => number) =>
    median(smaller.rounds.map((load, i) => pick(larger.rounds[i] as LoadResult) / pick(load)));
  return {
    axis,
    store,
    variants: variants.map((variant) => {
      const requests = variant.rounds.reduce((sum, load) => sum + load.requests - load.non2xx, 0);
      const time = variant.rounds.reduce((sum, load) => sum + load.durationSeconds, 0);
      return {
        label: variant.label,
        size: variant.size,
        ...(variant.seedSeconds === undefined ? {} : { seedSeconds: Number(variant.seedSeconds.toFixed(1)) }),
        requestsPerSecond: Math.round(requests / time),
        p50: median(variant.rounds.map((load) => load.latencyMs.p50)),
        p99: median(variant.rounds.map((load) => load.latencyMs.p99)),
        errors: variant.rounds.reduce((sum, load) => sum + load.errors, 0),
        non2xx: variant.rounds.reduce((sum, load) => sum + load.non2xx, 0),
        rounds: variant.rounds.map((load) => ({
          requestsPerSecond: Math.round(load.requestsPerSecond),
          p50: load.latencyMs.p50,
          p99: load.latencyMs.p99,
        })),
      };
    }),
    p50Ratio: Number(perRound((load) => load.latencyMs.p50).toFixed(3)),
    requestsPerSecondRatio: Number(perRound((load) => load.requestsPerSecond).toFixed(3)),
  };
}

function table(comparisons: Comparison[]): string {
  const lines = [
    '| store | in the store | seeded in | req/s | p50 ms | p99 ms | errors / non-2xx | p50 large ÷ small | goal (≤ 1.20) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const comparison of comparisons) {
    comparison.variants.forEach((variant, i) => {
      const unit = comparison.axis === 'users' ? 'users' : variant.size === 1 ? 'org' : 'orgs';
      const last = i === comparison.variants.length - 1;
      lines.push(
        `| ${comparison.store} | ${variant.size.toLocaleString('en')} ${unit} | ${variant.seedSeconds === undefined ? '–' : `${variant.seedSeconds} s`} | ${variant.requestsPerSecond} | ${variant.p50} | ${variant.p99} | ${variant.errors} / ${variant.non2xx} | ${last ? comparison.p50Ratio.toFixed(2) : ''} | ${last ? (comparison.p50Ratio <= 1.2 ? 'met' : 'MISSED') : ''} |`,
      );
    });
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  log(`rialto-exchange bench:scale: ${machine}`);
  log(`${connections} connections, ${durationSeconds} s per target in ${rounds} interleaved rounds`);
  const idp = await startIdp('partner');
  const comparisons: Comparison[] = [];
  const failures: string[] = [];
  try {
    if (axes.includes('users')) {
      for (const store of stores) {
        log(`\n== users: ${store}, ${small.toLocaleString('en')} vs ${large.toLocaleString('en')}`);
        const variants: Variant[] = [];
        try {
          variants.push(await seededVariant(store, idp, small));
          variants.push(await seededVariant(store, idp, large));
          comparisons.push(await compare('users', store, variants));
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          log(`   FAILED: ${reason}`);
          failures.push(`users/${store}: ${reason}`);
        } finally {
          // autocannon resolves before its last in-flight requests are answered: let them finish
          // before the store closes, so that shutdown logs no failed requests.
          await new Promise((resolve) => setTimeout(resolve, 1000));
          for (const variant of variants) await variant.cleanup();
        }
      }
    }
    if (axes.includes('orgs')) {
      log(`\n== organizations: memory store, 1 vs ${orgCount.toLocaleString('en')}`);
      const variants: Variant[] = [];
      try {
        const indices = Array.from({ length: poolSize }, (_, i) => i);
        variants.push(await orgVariant(idp, 1, indices));
        variants.push(await orgVariant(idp, orgCount, indices));
        comparisons.push(await compare('orgs', 'memory', variants));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        log(`   FAILED: ${reason}`);
        failures.push(`orgs/memory: ${reason}`);
      } finally {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        for (const variant of variants) await variant.cleanup();
      }
    }
  } finally {
    await idp.close();
  }

  const date = new Date().toISOString();
  const settings = { small, large, poolSize, orgCount, stores, axes, durationSeconds, rounds, connections };
  const text = [
    `Results of ${date}`,
    '',
    `- machine: ${machine}`,
    `- command: \`pnpm bench:scale\` (${Object.entries(settings)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ')})`,
    `- load: autocannon, ${connections} connections, ${durationSeconds} s per target in ${rounds} rounds alternating between the two targets of a row pair, after a warm-up of one exchange per pool user; the pool is ${poolSize} users (seeded users picked at random across the whole seeded range for the users axis, users created in the warm-up for the organizations axis); p50/p99 are the median over rounds, the ratio the median of the per-round ratios`,
    '',
    table(comparisons),
    ...(failures.length > 0 ? ['', 'Failed:', ...failures.map((failure) => `- ${failure}`)] : []),
  ].join('\n');
  log(`\n${text}`);
  mkdirSync(`${BENCH_DIR}results`, { recursive: true });
  writeFileSync(
    `${BENCH_DIR}results/scale.json`,
    `${JSON.stringify({ date, machine, settings, comparisons, failures }, null, 2)}\n`,
  );
  replaceBlock(`${BENCH_DIR}README.md`, 'scale', text);
  const bad = comparisons.some((c) => c.variants.some((v) => v.errors > 0 || v.non2xx > 0));
  return failures.length > 0 || bad ? 1 : 0;
}

process.exitCode = await main();
