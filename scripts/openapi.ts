/**
 * Writes docs/openapi.json: the document the router serves at `GET /identity/openapi.json` with
 * default options, generated from the routes' zod schemas. `--check` writes nothing and fails when
 * the committed file differs from a fresh generation (run by scripts/check-docs.sh).
 *
 *   pnpm run openapi            # regenerate
 *   pnpm run openapi --check    # CI
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRialtoExchange } from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';

// The path documented in the README; the router serves the document there unless `openapi.path` moves it.
const DOCUMENT_PATH = '/identity/openapi.json';
const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'openapi.json');

const exchange = createRialtoExchange({
  issuer: 'https://api.example.com',
  store: memoryStore(),
  allowedAudiences: [],
  logger: false,
});
const response = await exchange.handle({ method: 'GET', path: DOCUMENT_PATH, headers: {} });
await exchange.close();
if (response?.status !== 200) throw new Error(`GET ${DOCUMENT_PATH} answered ${response?.status}`);
const generated = `${JSON.stringify(response.body, null, 2)}\n`;

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {}
  if (committed !== generated) {
    console.error('docs/openapi.json differs from the routes: run `pnpm run openapi` and commit it.');
    process.exit(1);
  }
  console.log('docs/openapi.json matches the routes');
} else {
  writeFileSync(target, generated);
  console.log(`wrote ${target}`);
}
