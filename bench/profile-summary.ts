/**
 * Summarizes V8 CPU profiles taken with `BENCH_PROFILE=<target>,… pnpm bench`: main-thread self
 * time by package or file and by function, per exchange when the run's results say how many
 * exchanges the target answered; with `--vs`, two targets side by side, sorted by the difference.
 *
 *   node --import tsx bench/profile-summary.ts bench/results/profiles/rialto-memory
 *   node --import tsx bench/profile-summary.ts bench/results/profiles/floor --vs bench/results/profiles/rialto-memory
 *
 * Options: `--top N` (rows per table, default 30). Given a directory, the largest profile in it is
 * read: the main thread's (tsx's module loader writes a small one beside it). Start-up frames
 * (module loading, tsx) are left out, so what remains is the serving.
 *
 * Read the numbers with two caveats. WebCrypto signs and verifies on the libuv pool, which the
 * profiler does not sample: that work shows up in the target's CPU µs per request, not here. And
 * on a machine with fewer cores than busy threads, time the main thread spends preempted is
 * charged to whatever frame it was in, typically the frame that just handed a job to the pool
 * (`jobPromise`, node:internal/crypto/util); compare that frame between targets, not in isolation.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Summary {
  label: string;
  /** Divides every figure: exchanges served, or 1000 to print milliseconds. */
  divisor: number;
  unit: string;
  busyMicros: number;
  byPlace: Map<string, number>;
  byFunction: Map<string, number>;
  inclusive: Map<string, number>;
  byGroup: Map<string, number>;
}

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');
const STARTUP = /node:internal\/modules|node:internal\/bootstrap|cjs-module-lexer|source_map|\/tsx@/;
const SELECTED: ReadonlyArray<readonly [string, RegExp]> = [
  ['garbage collector', /^\(garbage collector\) $/],
  [
    'express, router and their helpers',
    /\/(express|router|send|etag|finalhandler|parseurl|content-type|mime-types)@/,
  ],
  ['jose', /\/jose@/],
  ['lru-cache', /\/lru-cache@/],
  ['kysely', /\/kysely@/],
  ['pg, pg-pool, pg-protocol', /\/pg(-pool|-protocol)?@/],
  ['@redis/client', /\/@redis\+client@/],
  ['better-sqlite3', /\/better-sqlite3@/],
  ['timers', /^\S* node:internal\/timers$/],
];

/**
 * Where each sample's time goes, by what the work is for: the nearest frame (from the sampled one
 * up) that matches a group names it, so a native frame (a write, a hash) counts for the code that
 * called it. Tried in order on each frame; the first match wins.
 */
const GROUPS: ReadonlyArray<readonly [string, RegExp]> = [
  ['garbage collector', /^\(garbage collector\) $/],
  ['JOSE and crypto', /\/jose@|node:internal\/crypto|\/internal\/hs256|\/keys\/|\/tokens\/|floor-work\.ts$/],
  ['metrics', /\/prom-client@|prometheus-metrics|\/telemetry\/metrics/],
  ['logging', /\/pino[^/]*@|\/telemetry\/logger|sonic-boom/],
  ['limits', /\/limits\//],
  [
    'store and caches',
    /\/storage-adapters\/|\/core\/src\/store\/|\/lru-cache@|\/organizations\/|\/issuers\/|\/users\/|kysely|@redis|better-sqlite3|\/pg/,
  ],
  ['tracing hooks', /\/telemetry\/tracing/],
  ['exchange steps and policy', /\/core\/src\/(exchange|policy|oauth)\//],
  [
    'routing and request/response',
    /\/(express|router|send|etag|finalhandler|parseurl|content-type|mime-types|body-parser|raw-body|qs)@|\/packages\/express\/src\/|\/core\/src\/http\/|floor(-express)?\.ts$|rialto-core\.ts$/,
  ],
  [
    'node http, net and streams',
    /node:(_http|net|internal\/streams|internal\/stream_base|events|internal\/http)/,
  ],
  ['JSON', /^(parse|stringify) $/],
];

function parseArgs(argv: string[]) {
  const positional: string[] = [];
  let vs: string | undefined;
  let top = 30;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--vs') vs = argv[++i];
    else if (arg === '--top') top = Number(argv[++i]);
    else positional.push(arg);
  }
  return { target: positional[0], vs, top };
}

function profileFile(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const profiles = readdirSync(path)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(path, name))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  if (!profiles[0]) throw new Error(`no .cpuprofile in ${path}`);
  return profiles[0];
}

/** Exchanges the target named like the profile's directory answered, from the latest results. */
function exchangesServed(path: string): number | undefined {
  const name = basename(statSync(path).isDirectory() ? path : dirname(path));
  for (const file of ['quick.json', 'latest.json']) {
    const results = join(RESULTS_DIR, file);
    if (!existsSync(results)) continue;
    const { rows } = JSON.parse(readFileSync(results, 'utf8')) as {
      rows: Array<{ name: string; exchangesServed?: number; profile?: string }>;
    };
    const row = rows.find((candidate) => candidate.name === name && candidate.profile);
    if (row?.exchangesServed) return row.exchangesServed;
  }
  return undefined;
}

function where(url: string): string {
  if (url === '') return '(native/V8)';
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pnpm) return pnpm[1] as string;
  const workspace = /\/((?:packages|internal)\/[^/]+\/src\/.*|bench\/.*)$/.exec(url);
  if (workspace) return workspace[1] as string;
  return url.replace(/^file:\/\//, '');
}

function summarize(path: string): Summary {
  const file = profileFile(path);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const served = exchangesServed(path);
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byGroup = new Map<string, number>();
  // Module loading (tsx's hooks answer on a message port) calls native frames with no URL of their own.
  const duringStartup = (id: number): boolean => {
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      if (STARTUP.test((nodes.get(current) as ProfileNode).callFrame.url)) return true;
    }
    return false;
  };
  const groupOf = (id: number): string => {
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      const frame = (nodes.get(current) as ProfileNode).callFrame;
      const group = GROUPS.find(([, pattern]) => pattern.test(`${frame.functionName} ${frame.url}`));
      if (group) return group[0];
    }
    return 'other (native, V8, node internals)';
  };
  const add = (map: Map<string, number>, key: string, micros: number) =>
    map.set(key, (map.get(key) ?? 0) + micros);
  let busyMicros = 0;
  for (const [id, micros] of selfMicros) {
    const { functionName, url, lineNumber } = (nodes.get(id) as ProfileNode).callFrame;
    if (functionName === '(idle)' || duringStartup(id)) continue;
    busyMicros += micros;
    const place = where(url);
    add(byPlace, place, micros);
    add(byFunction, `${functionName || '(anonymous)'}  ${place}${url ? `:${lineNumber + 1}` : ''}`, micros);
    add(byGroup, groupOf(id), micros);
    for (const [label, pattern] of SELECTED) {
      for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
        const frame = (nodes.get(current) as ProfileNode).callFrame;
        if (pattern.test(`${frame.functionName} ${frame.url}`)) {
          add(inclusive, label, micros);
          break;
        }
      }
    }
  }
  return {
    label: served ? `${basename(path)} (${served} exchanges)` : basename(path),
    divisor: served ?? 1000,
    unit: served ? 'µs/exchange' : 'ms',
    busyMicros,
    byPlace,
    byFunction,
    inclusive,
    byGroup,
  };
}

const format = (value: number) => value.toFixed(1).padStart(8);

function printOne(summary: Summary, top: number): void {
  const per = (micros: number) => format(micros / summary.divisor);
  const share = (micros: number) => `${((100 * micros) / summary.busyMicros).toFixed(1).padStart(5)}%`;
  console.log(`${summary.label}: main thread busy ${per(summary.busyMicros).trim()} ${summary.unit}\n`);
  for (const [title, map, rows] of [
    ['self time by what it is for', summary.byGroup, GROUPS.length + 1],
    ['self time by package or file', summary.byPlace, 20],
    ['self time by function', summary.byFunction, top],
    ['inclusive time of selected frames', summary.inclusive, SELECTED.length],
  ] as const) {
    console.log(`${title} (${summary.unit}, share of busy time):`);
    for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      console.log(`${per(micros)} ${share(micros)}  ${key}`);
    }
    console.log('');
  }
}

function printComparison(a: Summary, b: Summary, top: number): void {
  if (a.unit !== b.unit)
    console.log('warning: only one profile has an exchange count; figures are not comparable\n');
  console.log(`A = ${a.label}\nB = ${b.label}`);
  console.log(
    `main thread busy: A ${format(a.busyMicros / a.divisor).trim()}, B ${format(b.busyMicros / b.divisor).trim()} ${a.unit}\n`,
  );
  for (const [title, mapA, mapB, rows] of [
    ['by what it is for', a.byGroup, b.byGroup, GROUPS.length + 1],
    ['by package or file', a.byPlace, b.byPlace, 25],
    ['by function', a.byFunction, b.byFunction, top],
    ['selected frames, inclusive', a.inclusive, b.inclusive, SELECTED.length],
  ] as const) {
    console.log(`${title} (${a.unit}):        A        B    B - A`);
    const keys = new Set([...mapA.keys(), ...mapB.keys()]);
    const lines = [...keys]
      .map((key) => {
        const valueA = (mapA.get(key) ?? 0) / a.divisor;
        const valueB = (mapB.get(key) ?? 0) / b.divisor;
        return { key, valueA, valueB, delta: valueB - valueA };
      })
      .sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta))
      .slice(0, rows);
    for (const { key, valueA, valueB, delta } of lines) {
      console.log(`${' '.repeat(20)}${format(valueA)} ${format(valueB)} ${format(delta)}  ${key}`);
    }
    console.log('');
  }
}

const { target, vs, top } = parseArgs(process.argv.slice(2));
if (!target) {
  console.error('usage: profile-summary.ts <profile dir or file> [--vs <profile dir or file>] [--top N]');
  process.exit(2);
}
if (vs) printComparison(summarize(target), summarize(vs), top);
else printOne(summarize(target), top);
