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
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
