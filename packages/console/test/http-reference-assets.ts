import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HTTP_REFERENCE_DIRECTORY } from '../src/http-reference.js';

/**
 * Writes the HTTP reference into the package as its build does (`build:reference`) when no build
 * has, so that the tests of the page pass from source, before and after `pnpm build`, in any order.
 */
export function ensureHttpReference(): void {
  if (existsSync(new URL('http-reference.html', HTTP_REFERENCE_DIRECTORY))) return;
  execFileSync(process.execPath, [
    fileURLToPath(new URL('../../../scripts/http-reference.mjs', import.meta.url)),
    '--out',
    fileURLToPath(HTTP_REFERENCE_DIRECTORY),
  ]);
}
