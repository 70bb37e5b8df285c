/**
 * `pnpm bench:memory` (opt-in, never part of `pnpm bench` or CI): RSS and heap of the rialto target
 * on the memory store across BENCH_MEMORY_EXCHANGES exchanges (default 1,000,000) rotating over
 * BENCH_MEMORY_USERS users (default 100,000), sampled before the load and after every 10 % of it.
 * The first lap over the users creates them; later laps are returning users.
 *
 * Each sample is taken twice: as the process stands, and after a full GC (`--expose-gc`), so the
 * heap figure is live data. Every exchange stores a refresh-token record that the memory store
 * keeps until the token expires, so the data the store must hold levels off only once tokens
 * expire as fast as they are issued. At the default lifetime (1,800 s) that takes longer than the
 * run, so the target runs with BENCH_MEMORY_REFRESH_TTL_SECONDS (default 120): the records held
 * then level off at about (exchanges per second × lifetime), and any growth beyond that, in the
 * stretch of the run after the first lifetimes have passed, is what a cache or a leak would add.
 *
 * Results: bench/results/memory.json and the memory block of bench/README.md.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { startIdp } from './lib/idp.js';
import { runLoad } from './lib/load.js';
import { ENV_ISSUERS, ENV_REFRESH_TTL_SECONDS, ENV_STORE, type MemoryReport } from './lib/protocol.js';
import { replaceBlock } from './lib/seed.js';
import { startTarget } from './lib/target.js';

const exchanges = Number(process.env.BENCH_MEMORY_EXCHANGES ?? 1_000_000);
const refreshTtlSeconds = Number(process.env.BENCH_MEMORY_REFRESH_TTL_SECONDS ?? 120);
const users = Number(process.env.BENCH_MEMORY_USERS ?? 100_000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const STEPS = 10;

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

interface Sample {
  exchanges: number;
  /** Users created so far (the first lap creates them). */
  users: number;
  seconds: number;
  raw: { rssMiB: number; heapUsedMiB: number; externalMiB: number };
  afterGc: { rssMiB: number; heapUsedMiB: number; externalMiB: number };
  requestsPerSecond?: number;
  p50?: number;
  p99?: number;
  errors?: number;
  non2xx?: number;
}

/**
 * Heap bytes one refresh-token record costs in `memoryStore()`, measured in this process: 50,000
 * records shaped like the ones `mint()` saves (random UUID jti, family and user, one org), after GC.
 */
async function refreshRecordBytes(): Promise<number> {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const count = 50_000;
  const orgId = randomUUID();
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + 1800;
  const kid = randomUUID();
  const store = memoryStore();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    await store.saveRefreshToken({
      jti: randomUUID(),
      familyId: randomUUID(),
      orgId,
      userId: randomUUID(),
      issuedAt,
      expiresAt,
      kid,
    });
  }
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / count;
  // Keep the store reachable until measured.
  const none = { jti: 'none', familyId: 'none', orgId, userId: 'none', issuedAt, expiresAt, kid };
  const kept = await store.rotateRefreshToken({ jti: 'none', successor: none, now: 0, graceSeconds: 0 });
  if (kept.outcome !== 'unknown') throw new Error('unexpected record');
  return bytes;
}

const inMiB = (memory: MemoryReport) => ({
  rssMiB: mib(memory.rss),
  heapUsedMiB: mib(memory.heapUsed),
  externalMiB: mib(memory.external),
});

async function main(): Promise<number> {
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  log(`rialto-exchange bench:memory: ${machine}`);
  log(
    `${exchanges.toLocaleString('en')} exchanges over ${users.toLocaleString('en')} users, ${connections} connections`,
  );

  const recordBytes = await refreshRecordBytes();
  log(
    `one refresh-token record in memoryStore(): ${recordBytes.toFixed(0)} heap bytes (measured in the driver)`,
  );
  const idp = await startIdp('partner');
  const started = performance.now();
  const bodies: string[] = [];
  for (let start = 0; start < users; start += 200) {
    const batch = Array.from({ length: Math.min(200, users - start) }, (_, i) => idp.idToken(start + i));
    for (const token of await Promise.all(batch)) bodies.push(JSON.stringify({ token }));
  }
  log(
    `${bodies.length.toLocaleString('en')} ID tokens signed in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const target = await startTarget({
    script: 'rialto.ts',
    env: {
      [ENV_ISSUERS]: JSON.stringify([idp.issuer]),
      [ENV_STORE]: 'memory',
      [ENV_REFRESH_TTL_SECONDS]: String(refreshTtlSeconds),
    },
    nodeFlags: ['--expose-gc'],
  });
  const org = target.orgs[0];
  if (!org) throw new Error('the target registered no organization');
  const samples: Sample[] = [];
  let failed = false;
  try {
    const sample = async (done: number, seconds: number): Promise<Sample> => ({
      exchanges: done,
      users: Math.min(done, users),
      seconds: Number(seconds.toFixed(1)),
      raw: inMiB((await target.stats()).memory),
      afterGc: inMiB((await target.stats('gc-stats')).memory),
    });
    samples.push(await sample(0, 0));
    const loadStarted = performance.now();
    let done = 0;
    for (let step = 1; step <= STEPS; step++) {
      const amount = Math.round((exchanges * step) / STEPS) - done;
      // Continue the rotation where the last step stopped.
      const offset = done % bodies.length;
      const load = await runLoad({
        url: target.url,
        apiKey: org.apiKey,
        bodies: [...bodies.slice(offset), ...bodies.slice(0, offset)],
        connections,
        amount,
      });
      done += amount;
      const entry = {
        ...(await sample(done, (performance.now() - loadStarted) / 1000)),
        requestsPerSecond: Math.round(load.requestsPerSecond),
        p50: load.latencyMs.p50,
        p99: load.latencyMs.p99,
        errors: load.errors,
        non2xx: load.non2xx,
      };
      if (load.errors > 0 || load.non2xx > 0) failed = true;
      samples.push(entry);
      log(
        `   ${step * 10}%: ${done.toLocaleString('en')} exchanges in ${entry.seconds} s; RSS ${entry.raw.rssMiB} MiB (after GC ${entry.afterGc.rssMiB}), heap ${entry.raw.heapUsedMiB} MiB (after GC ${entry.afterGc.heapUsedMiB}); ${entry.requestsPerSecond}/s, ${entry.errors} errors, ${entry.non2xx} non-2xx`,
      );
    }
  } finally {
    await target.stop();
    await idp.close();
  }

  const first = samples[0] as Sample;
  const last = samples[samples.length - 1] as Sample;
  // Steady state: every user exists and the tokens of the first lifetimes have expired (the store
  // sweeps them every 1,000 saves), so the records held no longer grow with the run.
  const steady =
    samples.find((s) => s.exchanges >= users && s.seconds >= 2 * refreshTtlSeconds && s !== last) ?? first;
  const growth = (pick: (s: Sample) => number) => pick(last) - pick(steady);
  const heapGrowth = last.afterGc.heapUsedMiB - first.afterGc.heapUsedMiB;
  const steadyHeapGrowth = growth((s) => s.afterGc.heapUsedMiB);
  const steadyRssGrowth = growth((s) => s.afterGc.rssMiB);
  const steadyExchanges = last.exchanges - steady.exchanges;
  const rate = last.requestsPerSecond ?? 0;
  const date = new Date().toISOString();
  const lines = [
    `Results of ${date}`,
    '',
    `- machine: ${machine}`,
    `- command: \`BENCH_MEMORY_EXCHANGES=${exchanges} BENCH_MEMORY_USERS=${users} BENCH_MEMORY_REFRESH_TTL_SECONDS=${refreshTtlSeconds} pnpm bench:memory\``,
    `- load: rialto target (Express 5 + memoryStore()), autocannon ${connections} connections, ${exchanges.toLocaleString('en')} exchanges rotating over ${users.toLocaleString('en')} users (the first ${users.toLocaleString('en')} create them), in 10 steps; each sample as the process stands, then after a full GC`,
    '',
    '| after | exchanges | users | s | RSS MiB | heap used MiB | RSS after GC | heap after GC | req/s | p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...samples.map(
      (s, i) =>
        `| ${i === 0 ? 'start' : `${i * 10}%`} | ${s.exchanges.toLocaleString('en')} | ${s.users.toLocaleString('en')} | ${s.seconds} | ${s.raw.rssMiB} | ${s.raw.heapUsedMiB} | ${s.afterGc.rssMiB} | ${s.afterGc.heapUsedMiB} | ${s.requestsPerSecond ?? '–'} | ${s.p50 ?? '–'} | ${s.p99 ?? '–'} |`,
    ),
    '',
    `Refresh tokens lived ${refreshTtlSeconds} s in this run (BENCH_MEMORY_REFRESH_TTL_SECONDS), so the store holds about ${rate.toLocaleString('en')} exchanges/s × ${refreshTtlSeconds} s ≈ ${Math.round(rate * refreshTtlSeconds).toLocaleString('en')} records of ${recordBytes.toFixed(0)} bytes each (measured on their own in the driver) once the first lifetimes have passed; at the default 1,800 s it would be 15 times as many. Heap after GC grew ${heapGrowth.toFixed(1)} MiB over the whole run, users and those records included. In the steady stretch, from ${steady.exchanges.toLocaleString('en')} exchanges (${steady.seconds} s) to the end (${steadyExchanges.toLocaleString('en')} more exchanges of returning users), heap after GC changed by ${steadyHeapGrowth.toFixed(1)} MiB and RSS after GC by ${steadyRssGrowth.toFixed(1)} MiB: ${steadyExchanges > 0 ? ((steadyHeapGrowth * 2 ** 20) / steadyExchanges).toFixed(1) : '–'} heap bytes per exchange.`,
  ];
  const text = lines.join('\n');
  log(`\n${text}`);
  mkdirSync(`${BENCH_DIR}results`, { recursive: true });
  writeFileSync(
    `${BENCH_DIR}results/memory.json`,
    `${JSON.stringify({ date, machine, settings: { exchanges, users, connections, refreshTtlSeconds }, samples, heapGrowthMiB: heapGrowth, steady: { fromExchanges: steady.exchanges, heapGrowthMiB: steadyHeapGrowth, rssGrowthMiB: steadyRssGrowth }, refreshRecordBytes: Math.round(recordBytes) }, null, 2)}\n`,
  );
  replaceBlock(`${BENCH_DIR}README.md`, 'memory', text);
  return failed ? 1 : 0;
}

process.exitCode = await main();
