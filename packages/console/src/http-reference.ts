import { existsSync, readFileSync } from 'node:fs';
import { type ConsoleResponse, plainResponse } from './responses.js';

/**
 * The HTTP reference (Redoc rendering the OpenAPI document), as `scripts/http-reference.mjs --out`
 * writes it into the package at build time: every file served from the package, none from a CDN.
 */
export const HTTP_REFERENCE_DIRECTORY = new URL('../assets/http-reference/', import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  'http-reference.html': 'text/html; charset=utf-8',
  'http-reference.js': 'text/javascript; charset=utf-8',
  'openapi.json': 'application/json; charset=utf-8',
  'vendor/redoc.standalone.js': 'text/javascript; charset=utf-8',
};

/**
 * Redoc writes its styles at run time and runs its search in a blob worker, so its page cannot
 * live under the console's policy. The generator states the policy the page needs in its `<meta>`;
 * that same policy becomes the header, so there is one source for it. Framing stays refused.
 */
function pagePolicy(page: string): string {
  const policy = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)?.[1];
  if (policy === undefined) throw new Error('http-reference.html states no Content-Security-Policy');
  return `${policy}; frame-ancestors 'none'`;
}

function load(): Map<string, ConsoleResponse> | null {
  if (!existsSync(new URL('http-reference.html', HTTP_REFERENCE_DIRECTORY))) return null;
  const page = readFileSync(new URL('http-reference.html', HTTP_REFERENCE_DIRECTORY), 'utf8');
  const policy = pagePolicy(page);
  const files = new Map<string, ConsoleResponse>();
  for (const [name, contentType] of Object.entries(CONTENT_TYPES)) {
    files.set(name, {
      status: 200,
      headers: {
        'content-type': contentType,
        'content-security-policy': policy,
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'same-origin',
        'cache-control': 'private, max-age=3600',
      },
      body: readFileSync(new URL(name, HTTP_REFERENCE_DIRECTORY)),
    });
  }
  return files;
}

let loaded: Map<string, ConsoleResponse> | null | undefined;

/**
 * A file of the reference by its path under `/reference/` (`''` is the page), or `undefined` for a
 * path that is not one. Read once, on first use.
 */
export function httpReferenceFile(path: string): ConsoleResponse | undefined {
  loaded ??= load();
  if (loaded === null) {
    return plainResponse(
      503,
      'The HTTP reference is not built into this copy of the console: run `pnpm build` in packages/console.',
    );
  }
  return loaded.get(path === '' ? 'http-reference.html' : path);
}
