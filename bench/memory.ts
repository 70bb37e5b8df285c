/**
 * `pnpm bench:memory` (opt-in, never part of `pnpm bench` or CI): RSS and heap of the rialto target
 * on the memory store across BENCH_MEMORY_EXCHANGES exchanges (default 300,000) rotating over
 * BENCH_MEMORY_USERS users (default 100,000), sampled before the load and after every 10 % of it.
 * The first lap over the users creates them; later laps are returning users.
 *
 * Each sample is taken twice: as the process stands, and after a full GC (`--expose-gc`), so the
 * heap figure is live data. The memory store keeps every refresh-token record until it expires
 * (1800 s), and every exchange writes one, so within a run shorter than 30 minutes those records
 * grow with the number of exchanges: that growth is data the store must hold, not a cache. The
 * report divides the post-GC heap growth by the exchanges to show what each costs.
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
import { ENV_ISSUERS, ENV_STORE, type MemoryReport } from './lib/protocol.js';
import { replaceBlock } from './lib/seed.js';
import { startTarget } from './lib/target.js';

const exchanges = Number(process.env.BENCH_MEMORY_EXCHANGES ?? 300_000);
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
  /** Refresh-token records the memory store holds (one per exchange, none expired within the run). */
  refreshRecords: number;
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
  const expiresAt = Math.floor(Date.now() / 1000) + 1800;
  const store = memoryStore();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    await store.saveRefreshToken({
      jti: randomUUID(),
      familyId: randomUUID(),
      orgId,
      userId: randomUUID(),
      expiresAt,
    });
  }
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / count;
  // Keep the store reachable until measured.
  if ((await store.consumeRefreshToken('none', 0)) !== null) throw new Error('unexpected record');
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
    env: { [ENV_ISSUERS]: JSON.stringify([idp.issuer]), [ENV_STORE]: 'memory' },
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
      refreshRecords: done,
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
  const afterUsers = samples.find((s) => s.exchanges >= users) ?? first;
  const last = samples[samples.length - 1] as Sample;
  const heapGrowth = last.afterGc.heapUsedMiB - first.afterGc.heapUsedMiB;
  const lateGrowth = last.afterGc.heapUsedMiB - afterUsers.afterGc.heapUsedMiB;
  const lateExchanges = last.exchanges - afterUsers.exchanges;
  const bytesPerLateExchange = lateExchanges > 0 ? (lateGrowth * 2 ** 20) / lateExchanges : 0;
  const date = new Date().toISOString();
  const lines = [
    `Results of ${date}`,
    '',
    `- machine: ${machine}`,
    `- command: \`BENCH_MEMORY_EXCHANGES=${exchanges} BENCH_MEMORY_USERS=${users} pnpm bench:memory\``,
    `- load: rialto target (Express 5 + memoryStore()), autocannon ${connections} connections, ${exchanges.toLocaleString('en')} exchanges rotating over ${users.toLocaleString('en')} users (the first ${users.toLocaleString('en')} create them), in 10 steps; each sample as the process stands, then after a full GC`,
    '',
    '| after | exchanges | users | s | RSS MiB | heap used MiB | RSS after GC | heap after GC | refresh records held | req/s | p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...samples.map(
      (s, i) =>
        `| ${i === 0 ? 'start' : `${i * 10}%`} | ${s.exchanges.toLocaleString('en')} | ${s.users.toLocaleString('en')} | ${s.seconds} | ${s.raw.rssMiB} | ${s.raw.heapUsedMiB} | ${s.afterGc.rssMiB} | ${s.afterGc.heapUsedMiB} | ${s.refreshRecords.toLocaleString('en')} | ${s.requestsPerSecond ?? '–'} | ${s.p50 ?? '–'} | ${s.p99 ?? '–'} |`,
    ),
    '',
    `Heap after GC grew ${heapGrowth.toFixed(1)} MiB over the run. ${lateGrowth.toFixed(1)} MiB of it came after all ${users.toLocaleString('en')} users existed, over ${lateExchanges.toLocaleString('en')} exchanges of returning users: ${bytesPerLateExchange.toFixed(0)} bytes per exchange. One refresh-token record in \`memoryStore()\`, measured on its own in the driver (50,000 records of random UUIDs, after GC), costs ${recordBytes.toFixed(0)} bytes, so refresh-token records account for ${((recordBytes * lateExchanges) / 2 ** 20).toFixed(1)} MiB of that stretch and ${(lateGrowth - (recordBytes * lateExchanges) / 2 ** 20).toFixed(1)} MiB is left over. The records are data, not cache: the store keeps each for 1,800 s and its sweep drops expired ones, so from the 30-minute mark each new record replaces an expired one.`,
  ];
  const text = lines.join('\n');
  log(`\n${text}`);
  mkdirSync(`${BENCH_DIR}results`, { recursive: true });
  writeFileSync(
    `${BENCH_DIR}results/memory.json`,
    `${JSON.stringify({ date, machine, settings: { exchanges, users, connections }, samples, heapGrowthMiB: heapGrowth, heapGrowthAfterUsersMiB: lateGrowth, bytesPerExchangeAfterUsers: Math.round(bytesPerLateExchange), refreshRecordBytes: Math.round(recordBytes) }, null, 2)}\n`,
  );
  replaceBlock(`${BENCH_DIR}README.md`, 'memory', text);
  return failed ? 1 : 0;
}

process.exitCode = await main();
