/**
 * The exchange on every core: a `node:cluster` primary forks one worker per core (or
 * `WEB_CONCURRENCY`), each running the store-switch app on the same shared store, all answering on
 * one port (the primary hands out connections).
 *
 *   RIALTO_STORE=redis://127.0.0.1:6379              pnpm example:cluster
 *   RIALTO_STORE=postgres://postgres@127.0.0.1/test  WEB_CONCURRENCY=4 pnpm example:cluster
 *
 * The processes act as one service through the store (keys, users, refresh tokens, the
 * per-organization limit); each keeps its own caches and per-address limit. A memory store would
 * give each process its own signing keys and users, so it is refused. A worker that dies is
 * replaced; SIGTERM or SIGINT stops the workers, which finish their requests and close the store.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

if (cluster.isPrimary) {
  const storeUrl = process.env.RIALTO_STORE ?? '';
  // The schemes of storeFromUrl whose data lives in a server every process reaches.
  if (!/^(rediss?(\+cluster)?|postgres(ql)?|mysql|mariadb):/i.test(storeUrl)) {
    console.error(
      'Set RIALTO_STORE to a store every process shares: redis://, redis+cluster://, postgres:// or mysql://',
    );
    process.exit(1);
  }
  const workers = Number(process.env.WEB_CONCURRENCY ?? availableParallelism());
  let stopping = false;
  for (let index = 0; index < workers; index++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    cluster.fork();
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) {
      // SIGTERM makes the app close its server and store; the IPC channel would still hold it open.
      worker?.process.kill('SIGTERM');
      worker?.disconnect();
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  await import('../store-switch/server.js');
}
