import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BenchOrg, READY_PREFIX, type ReadyMessage, type TargetStats } from '../lib/protocol.js';

/**
 * Listens on 127.0.0.1 port 0, announces the port on stdout and serves the driver's IPC requests
 * until told to stop. Exiting through `process.exit` (not a signal) lets `--cpu-prof` write its profile.
 */
export async function serveUntilStopped(
  server: Server,
  ready: { orgs: BenchOrg[]; description: string },
  onStop: () => Promise<void> | void = () => {},
): Promise<void> {
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    server.close();
    try {
      await onStop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.on('message', (message) => {
    if (message === 'stop') void stop();
    else if (message === 'stats' || message === 'gc-stats') {
      // 'gc-stats' (bench/memory.ts, target started with --expose-gc): collect first, so heap used is live data.
      if (message === 'gc-stats') (globalThis as { gc?: () => void }).gc?.();
      const { rss, heapUsed, external } = process.memoryUsage();
      const { user, system } = process.cpuUsage();
      const stats: TargetStats = {
        memory: { rss, heapUsed, external },
        cpuMicros: user + system,
        mainThreadMicros: performance.eventLoopUtilization().active * 1000,
      };
      process.send?.({ stats });
    }
  });

  const message: ReadyMessage = { port, pid: process.pid, ...ready };
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(message)}\n`);
}
