import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@rialto-exchange/source'] },
  ssr: { resolve: { conditions: ['@rialto-exchange/source'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'internal/*/src/**/*.test.ts',
      'examples/**/*.test.ts',
      'scripts/**/*.test.ts',
    ],
    // Every end-to-end answer is checked against the OpenAPI document; a full run also checks that
    // every documented answer was produced (packages/core/test/openapi-*.ts).
    setupFiles: ['packages/core/test/openapi-setup.ts'],
    globalSetup: ['packages/core/test/openapi-coverage.ts'],
    // Vitest's default is one file at a time on a 2-core machine (cores - 1). Most files spend their
    // time waiting on sockets, stores, child processes and timers rather than computing, so a few
    // at once overlap those waits; files never share state (each uses its own prefixes and ports).
    maxWorkers: Math.max(3, availableParallelism() - 1),
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
