/**
 * The rialto target on more than one process, as docs/performance.md shows a host running it on
 * every core: a `node:cluster` primary that registers the organizations once in the shared store,
 * then forks `BENCH_PROCESSES` (default 2) workers running rialto.ts on that store. The workers
 * share one listening port (the primary hands out connections); each has its own caches and
 * per-instance limits, and the per-organization limit is shared through the store.
 *
 * To the driver it is one target: it announces the port and answers `stats` with the sum over the
 * workers and itself (CPU, main-thread busy time, memory), so CPU µs per exchange stays comparable
 * with the single-process rows.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRialtoExchange } from '@rialto-exchange/core';
import {
  type BenchOrg,
  ENV_ISSUERS,
  ENV_PROCESSES,
  ENV_REGISTERED_ORGS,
  ENV_STORE,
  ORG_NAME,
  READY_PREFIX,
  type ReadyMessage,
  readJsonEnv,
  SERVICE_ISSUER,
  type TargetStats,
} from '../lib/protocol.js';
import { makeStore, type StoreKind } from './stores.js';

const kind = (process.env[ENV_STORE] ?? 'redis') as StoreKind;
if (kind === 'memory' || kind === 'sqlite') {
  throw new Error(`rialto-cluster.ts needs a store its processes can share over the network, not ${kind}`);
}
const processes = Number(process.env[ENV_PROCESSES] ?? 2);
// Every worker opens the store under the same key or table prefix as the primary.
process.env.BENCH_STORE_UNIQUE ??= randomUUID().slice(0, 8);
const { store, description, cleanup } = await makeStore(kind);

const registrar = createRialtoExchange({
  issuer: SERVICE_ISSUER,
  store,
  allowInsecureIssuers: true,
  allowPrivateIssuers: true,
});
const orgs: BenchOrg[] = [];
for (const issuer of readJsonEnv<string[]>(ENV_ISSUERS)) {
  const { organization, apiKey } = await registrar.registerOrganization({ name: ORG_NAME, issuer });
  orgs.push({ issuer, orgId: organization.orgId, apiKey });
}
await registrar.close();

cluster.setupPrimary({
  exec: fileURLToPath(new URL('rialto.ts', import.meta.url)),
  // Piped, so that only the primary's ready line reaches the driver; the rest goes to stderr.
  silent: true,
});
const workers: Worker[] = [];
const ports: Promise<number>[] = [];
for (let index = 0; index < processes; index++) {
  const worker = cluster.fork({ [ENV_REGISTERED_ORGS]: JSON.stringify(orgs) });
  workers.push(worker);
  ports.push(workerPort(worker));
}
// Workers listening on port 0 through the primary all get the same port.
const [port] = new Set(await Promise.all(ports));

process.on('message', async (message) => {
  if (message === 'stop') await stop();
  else if (message === 'stats' || message === 'gc-stats') process.send?.({ stats: await sumStats(message) });
});
process.on('disconnect', () => void stop());

const ready: ReadyMessage = {
  port: port as number,
  pid: process.pid,
  orgs,
  description: `${processes} processes (node:cluster) of Express 5 + rialtoExchange(), ${description}`,
};
process.stdout.write(`${READY_PREFIX}${JSON.stringify(ready)}\n`);

function workerPort(worker: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    worker.process.stdout?.setEncoding('utf8');
    worker.process.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith(READY_PREFIX))
          resolve((JSON.parse(line.slice(READY_PREFIX.length)) as ReadyMessage).port);
        else if (line.length > 0) process.stderr.write(`[worker ${worker.id}] ${line}\n`);
      }
    });
    worker.process.stderr?.pipe(process.stderr);
    worker.once('exit', (code) =>
      reject(new Error(`worker ${worker.id} exited with ${code} before listening`)),
    );
  });
}

async function sumStats(request: 'stats' | 'gc-stats'): Promise<TargetStats> {
  const replies = await Promise.all(workers.map((worker) => askStats(worker, request)));
  const { rss, heapUsed, external } = process.memoryUsage();
  const { user, system } = process.cpuUsage();
  // The primary's own work (accepting and handing out connections) counts too.
  const total: TargetStats = {
    memory: { rss, heapUsed, external },
    cpuMicros: user + system,
    mainThreadMicros: performance.eventLoopUtilization().active * 1000,
  };
  for (const stats of replies) {
    total.memory.rss += stats.memory.rss;
    total.memory.heapUsed += stats.memory.heapUsed;
    total.memory.external += stats.memory.external;
    total.cpuMicros += stats.cpuMicros;
    total.mainThreadMicros += stats.mainThreadMicros;
  }
  return total;
}

function askStats(worker: Worker, request: 'stats' | 'gc-stats'): Promise<TargetStats> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (typeof message === 'object' && message !== null && 'stats' in message) {
        worker.off('message', onMessage);
        resolve((message as { stats: TargetStats }).stats);
      }
    };
    worker.on('message', onMessage);
    worker.send(request);
  });
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await Promise.all(
      workers.map(async (worker) => {
        if (worker.isDead()) return;
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.send('stop');
        await exited;
      }),
    );
    await cleanup();
  } finally {
    // Through process.exit (not a signal), so that --cpu-prof writes the profile.
    process.exit(0);
  }
}
