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
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
