import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { READY_PREFIX, type ReadyMessage, type TargetStats } from './protocol.js';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
const START_TIMEOUT_MS = 30_000;

export interface RunningTarget extends ReadyMessage {
  url: string;
  /** Milliseconds from spawn to the ready line (module loading, key generation, org registration). */
  startMs: number;
  /** Memory and CPU time of the target process; `'gc-stats'` collects garbage first (needs --expose-gc). */
  stats(request?: 'stats' | 'gc-stats'): Promise<TargetStats>;
  stop(): Promise<void>;
}

export interface TargetLaunch {
  /** File under bench/targets/, e.g. `floor.ts`. */
  script: string;
  env: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
  /** Processes the target starts (each loads the sources): the start-up deadline grows with them. @default 1 */
  processes?: number;
}

/**
 * Starts a target in its own process (its own event loop, away from autocannon), running the
 * workspace packages from their TypeScript sources, and waits for the port it announces.
 */
export async function startTarget({
  script,
  env,
  nodeFlags = [],
  processes = 1,
}: TargetLaunch): Promise<RunningTarget> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [...nodeFlags, '--conditions=@rialto-exchange/source', '--import', 'tsx', `targets/${script}`],
    { cwd: BENCH_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  // A cluster's primary loads the sources, then its workers do (side by side, on as many cores).
  const ready = await readyMessage(child, script, START_TIMEOUT_MS * (processes === 1 ? 1 : processes + 1));
  const startMs = performance.now() - started;
  const exited = once(child, 'exit');

  return {
    ...ready,
    url: `http://127.0.0.1:${ready.port}`,
    startMs,
    async stats(request = 'stats') {
      const reply = new Promise<TargetStats>((resolve) => {
        const onMessage = (message: unknown) => {
          if (typeof message === 'object' && message !== null && 'stats' in message) {
            child.off('message', onMessage);
            resolve((message as { stats: TargetStats }).stats);
          }
        };
        child.on('message', onMessage);
      });
      child.send(request);
      return reply;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function readyMessage(child: ChildProcess, script: string, timeoutMs: number): Promise<ReadyMessage> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not announce its port within ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before announcing its port`));
    };
    child.once('exit', onExit);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith(READY_PREFIX)) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(JSON.parse(line.slice(READY_PREFIX.length)) as ReadyMessage);
        } else if (line.length > 0) {
          process.stderr.write(`[${script}] ${line}\n`);
        }
      }
    });
  });
}
