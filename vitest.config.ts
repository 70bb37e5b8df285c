import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';
import { SlowestFirstSequencer } from './scripts/slowest-first-sequencer.js';

const testFiles = [
  'packages/*/src/**/*.test.ts',
  'packages/*/test/**/*.test.ts',
  'internal/*/src/**/*.test.ts',
  'examples/**/*.test.ts',
  'scripts/**/*.test.ts',
];

// Files that change process-wide state another file would then see: the global OpenTelemetry
// tracer provider, warn-once flags read at module load, prom-client's default registry,
// environment variables. Each gets a fresh module graph; every other file shares its worker's.
const needsFreshModules = [
  'packages/*/test/tracing*.test.ts',
  'packages/core/src/telemetry/tracing.test.ts',
  'packages/core/src/http/routes/store-tracing.test.ts',
  'packages/express/test/environment-config.test.ts',
  'packages/express/test/development-store.test.ts',
  'packages/express/test/outbox-backlog-metric.test.ts',
  'packages/express/test/metrics.test.ts',
  'packages/core/test/allowed-audiences.test.ts',
  'packages/core/test/default-logger.test.ts',
];

export default defineConfig({
  resolve: { conditions: ['@rialto-exchange/source'] },
  ssr: { resolve: { conditions: ['@rialto-exchange/source'] } },
  test: {
    // Every end-to-end answer is checked against the OpenAPI document; a full run also checks that
    // every documented answer was produced (packages/core/test/openapi-*.ts).
    setupFiles: ['packages/core/test/openapi-setup.ts'],
    globalSetup: ['packages/core/test/openapi-coverage.ts'],
    // Vitest's default is one file at a time on a 2-core machine (cores - 1). Most files spend part
    // of their time waiting on sockets, stores, child processes and timers rather than computing, so
    // a few at once fill those waits; files never share state (each uses its own prefixes and
    // ports). On 2 cores, 4 workers measured 230 s against 242 s for 3, once the suite's CPU had
    // come down (pooled RSA keys); before that, when the CPU was the bound, 4 gained nothing.
    maxWorkers: Math.max(4, availableParallelism() - 1),
    sequence: { sequencer: SlowestFirstSequencer },
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      // Importing the library and its dependencies again for every file cost more than half the
      // suite's time on 2 cores; files here reuse their worker's modules.
      {
        extends: true,
        test: {
          name: 'shared',
          include: testFiles,
          exclude: [...configDefaults.exclude, ...needsFreshModules],
          isolate: false,
        },
      },
      { extends: true, test: { name: 'fresh', include: needsFreshModules } },
    ],
  },
});
