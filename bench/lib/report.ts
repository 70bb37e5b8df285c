import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ColdStartResult } from './cold.js';
import type { LoadResult } from './load.js';
import type { MemoryReport } from './protocol.js';

/** A bound on this row against another row of the same run. */
export type Goal =
  | {
      /** The row the ratio is taken against. */
      of: string;
      /** Least acceptable ratio of this row's requests/s to that row's (median over rounds). */
      min: number;
    }
  | {
      of: string;
      /** Greatest acceptable ratio of this row's CPU µs per exchange to that row's. */
      maxCpu: number;
    };

export interface Row {
  name: string;
  description: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Why a row was skipped or failed. */
  reason?: string;
  goals: Goal[];
  startMs?: number;
  problems: string[];
  warmup?: LoadResult;
  /** The measured load, one entry per interleaved round. */
  rounds?: Round[];
  /** All rounds together: summed counts, req/s over the summed time, the median round's percentiles. */
  load?: LoadResult;
  cold?: ColdStartResult;
  memory?: { before: MemoryReport; after: MemoryReport };
  /** CPU during the measured load. Cores are CPU seconds per wall second. */
  cpu?: {
    targetMicrosPerRequest: number;
    /** The part of it spent on the main thread; the rest ran on the libuv pool (WebCrypto, hashing). */
    mainThreadMicrosPerRequest: number;
    targetCores: number;
    driverCores: number;
    otherCores: number;
  };
  /** Where the row's CPU profile went, with BENCH_PROFILE. */
  profile?: string;
  /**
   * Every exchange the target answered: sample check, cold start, warm-up and rounds. Divides a
   * CPU profile of the whole process into per-exchange figures (profile-summary.ts).
   */
  exchangesServed?: number;
}

export interface Round {
  load: LoadResult;
  /** CPU time during the round: the target process, the driver (autocannon and the IdP), everything else. */
  targetCpuMs: number;
  /** Of targetCpuMs, the target's main thread (event-loop busy time). */
  mainThreadMs: number;
  driverCpuMs: number;
  otherCpuMs: number;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  totalMemoryGiB: number;
}

export interface Settings {
  command: string;
  durationSeconds: number;
  rounds: number;
  connections: number;
  /** Unmeasured load per target after the warm-up, so the JIT has settled before the rounds. */
  settleSeconds: number;
  users: number;
  quick: boolean;
}

export interface Results {
  date: string;
  machine: Machine;
  settings: Settings;
  rows: Row[];
  failed: boolean;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * A row's requests/s relative to another's: the median over rounds of the two rows' ratio in the
 * same round, so a busy stretch of time weighs on both sides of each ratio alike.
 */
export function ratio(rows: Row[], row: Row, of: string): number | undefined {
  const base = rows.find((candidate) => candidate.name === of);
  if (base?.status !== 'ok' || !base.rounds || !row.rounds) return undefined;
  const pairs = row.rounds
    .map((round, index) => {
      const baseRps = base.rounds?.[index]?.load.requestsPerSecond;
      return baseRps ? round.load.requestsPerSecond / baseRps : undefined;
    })
    .filter((value): value is number => value !== undefined);
  return pairs.length > 0 ? median(pairs) : undefined;
}

/** This row's CPU µs per exchange over that row's, over the whole measured load. */
export function cpuRatio(rows: Row[], row: Row, of: string): number | undefined {
  const base = rows.find((candidate) => candidate.name === of);
  if (base?.status !== 'ok' || !base.cpu || !row.cpu) return undefined;
  return row.cpu.targetMicrosPerRequest / base.cpu.targetMicrosPerRequest;
}

/** Exchanges checkTarget() sends: three sound ones, a forged signature and a wrong API key. */
const CHECK_EXCHANGES = 5;

/** Aggregates a row's rounds into `load` and `cpu`, and marks the row failed on any error or non-2xx. */
export function finishRow(row: Row): void {
  const rounds = row.rounds ?? [];
  if (rounds.length === 0) return;
  const sum = (pick: (round: Round) => number) => rounds.reduce((total, round) => total + pick(round), 0);
  const statusCodes: Record<string, number> = {};
  for (const { load } of rounds) {
    for (const [code, count] of Object.entries(load.statusCodes))
      statusCodes[code] = (statusCodes[code] ?? 0) + count;
  }
  const durationSeconds = sum((round) => round.load.durationSeconds);
  const requests = sum((round) => round.load.requests);
  const ok = sum((round) => round.load.requestsPerSecond * round.load.durationSeconds);
  row.load = {
    requests,
    durationSeconds,
    requestsPerSecond: durationSeconds > 0 ? ok / durationSeconds : 0,
    latencyMs: {
      p50: median(rounds.map((round) => round.load.latencyMs.p50)),
      p90: median(rounds.map((round) => round.load.latencyMs.p90)),
      p99: median(rounds.map((round) => round.load.latencyMs.p99)),
      max: Math.max(...rounds.map((round) => round.load.latencyMs.max)),
      mean: sum((round) => round.load.latencyMs.mean * round.load.requests) / Math.max(1, requests),
    },
    errors: sum((round) => round.load.errors),
    timeouts: sum((round) => round.load.timeouts),
    non2xx: sum((round) => round.load.non2xx),
    statusCodes,
  };
  const wallMs = durationSeconds * 1000;
  row.cpu = {
    targetMicrosPerRequest: (sum((round) => round.targetCpuMs) * 1000) / Math.max(1, requests),
    mainThreadMicrosPerRequest: (sum((round) => round.mainThreadMs) * 1000) / Math.max(1, requests),
    targetCores: sum((round) => round.targetCpuMs) / wallMs,
    driverCores: sum((round) => round.driverCpuMs) / wallMs,
    otherCores: sum((round) => round.otherCpuMs) / wallMs,
  };
  row.exchangesServed =
    CHECK_EXCHANGES +
    (row.cold ? 1 + row.cold.herd.requests + row.cold.warmSamples : 0) +
    (row.warmup?.requests ?? 0) +
    requests;
  const { load } = row;
  if (load.errors > 0 || load.non2xx > 0) {
    row.problems.push(
      `load: ${load.errors} errors (${load.timeouts} timeouts), ${load.non2xx} non-2xx (${JSON.stringify(statusCodes)})`,
    );
  }
  if (row.problems.length > 0) {
    row.status = 'failed';
    row.reason = row.problems.join('; ');
  }
}

function goalText(rows: Row[], row: Row): string {
  return row.goals
    .map((goal) => {
      if ('maxCpu' in goal) {
        const value = cpuRatio(rows, row, goal.of);
        if (value === undefined) return `CPU ≤ ${goal.maxCpu} × ${goal.of}: n/a`;
        return `${value <= goal.maxCpu ? 'met' : 'MISSED'} (CPU ${fixed(value, 2)} × ${goal.of}, goal ≤ ${goal.maxCpu})`;
      }
      const value = ratio(rows, row, goal.of);
      if (value === undefined) return `≥ ${goal.min} × ${goal.of}: n/a`;
      return `${value >= goal.min ? 'met' : 'MISSED'} (${fixed(value, 2)} × ${goal.of}, goal ≥ ${goal.min})`;
    })
    .join('; ');
}

/** The results table, as Markdown (it reads fine in a terminal too). */
export function resultsTable(rows: Row[]): string {
  const lines = [
    '| target | req/s | p50 ms | p99 ms | errors | non-2xx | × floor | CPU µs/req | main thread µs/req | goal |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    if (row.status === 'skipped' || !row.load) {
      const state = row.status === 'skipped' ? 'skipped' : 'FAILED';
      lines.push(
        `| ${row.name} | – | – | – | – | – | – | – | – | ${state}: ${row.reason ?? row.problems.join('; ')} |`,
      );
      continue;
    }
    const { load } = row;
    const vsFloor = ratio(rows, row, 'floor');
    lines.push(
      `| ${row.name} | ${fixed(load.requestsPerSecond, 0)} | ${fixed(load.latencyMs.p50, 0)} | ${fixed(load.latencyMs.p99, 0)} | ${load.errors} | ${load.non2xx} | ${vsFloor === undefined ? '–' : fixed(vsFloor, 2)} | ${row.cpu ? fixed(row.cpu.targetMicrosPerRequest, 0) : '–'} | ${row.cpu ? fixed(row.cpu.mainThreadMicrosPerRequest, 0) : '–'} | ${row.status === 'failed' ? `FAILED: ${row.reason ?? ''}` : goalText(rows, row) || '–'} |`,
    );
  }
  return lines.join('\n');
}

export function coldStartText(rows: Row[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    if (!row.cold) continue;
    const { cold } = row;
    lines.push(
      `- ${row.name}: first exchange for a never-seen issuer ${fixed(cold.firstExchangeMs)} ms (status ${cold.firstStatus}; a warm exchange takes ${fixed(cold.warmExchangeMs)} ms); ${cold.herd.requests} concurrent cold exchanges: ${cold.herd.ok} × 200 in ${fixed(cold.herd.allAnsweredMs)} ms, ${cold.herd.discoveryFetches} discovery + ${cold.herd.jwksFetches} JWKS fetch(es) — ${cold.passed ? 'ok' : 'FAILED'} (must be 1 + 1${cold.processes > 1 ? ` per process, ${cold.processes} processes` : ''})`,
    );
  }
  return lines.join('\n');
}

export function memoryText(rows: Row[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    if (!row.memory) continue;
    const { before, after } = row.memory;
    lines.push(
      `- ${row.name}: RSS ${mib(before.rss)} before → ${mib(after.rss)} after the run (heap used ${mib(before.heapUsed)} → ${mib(after.heapUsed)})`,
    );
  }
  return lines.join('\n');
}

export function cpuText(rows: Row[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    if (!row.cpu) continue;
    const { cpu } = row;
    lines.push(
      `- ${row.name}: target ${fixed(cpu.targetCores, 2)} cores, driver (autocannon) ${fixed(cpu.driverCores, 2)} cores, other processes ${fixed(cpu.otherCores, 2)} cores${cpu.otherCores > 0.2 ? ' (busy machine: treat this row with care)' : ''}`,
    );
  }
  return lines.join('\n');
}

export function machineText(machine: Machine, settings: Settings): string {
  return [
    `- machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.platform}, Node ${machine.node}`,
    `- command: \`${settings.command}\``,
    `- load: autocannon, ${settings.connections} connections, ${settings.durationSeconds} s per target in ${settings.rounds} interleaved rounds, after a warm-up of one exchange per user and ${settings.settleSeconds} s of unmeasured load; ${settings.users} distinct users`,
  ].join('\n');
}

export function summary(results: Results): string {
  const sections = [
    `Results of ${results.date}`,
    '',
    machineText(results.machine, results.settings),
    '',
    resultsTable(results.rows),
    '',
    'Cold start:',
    coldStartText(results.rows) || '- (no rialto row ran)',
    '',
    'Memory:',
    memoryText(results.rows) || '- (none measured)',
    '',
    'CPU during the load (of the machine\'s cores; "other processes" includes the database server for store rows):',
    cpuText(results.rows) || '- (none measured)',
  ];
  const problems = results.rows.flatMap((row) => row.problems.map((problem) => `- ${row.name}: ${problem}`));
  if (problems.length > 0) sections.push('', 'Problems:', ...problems);
  return sections.join('\n');
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces the generated block of bench/README.md with these results. */
export function updateReadme(path: string, results: Results): void {
  const block = `${START}\n${summary(results)}\n${END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + END.length)}`
      : `${current}\n## Latest results\n\n${block}\n`;
  writeFileSync(path, next);
}
