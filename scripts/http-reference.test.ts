import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript run by CI, without declarations
import { HTTP_REFERENCE_CSP, httpReferenceFiles } from './http-reference.mjs';

const docs = fileURLToPath(new URL('../docs/', import.meta.url));
const html = readFileSync(join(docs, 'http-reference.html'), 'utf8');

describe('docs/http-reference.html', () => {
  it('is what scripts/http-reference.mjs generates, with every file it loads', () => {
    const files: Map<string, string | Buffer> = httpReferenceFiles();
    const outdated = [...files]
      .filter(([path, content]) => {
        const file = join(docs, path);
        return !existsSync(file) || !readFileSync(file).equals(Buffer.from(content));
      })
      .map(([path]) => path);
    expect(outdated).toEqual([]);
  });

  // The console serves the page under a policy without inline script.
  it('has no inline script and loads every script from a file beside it', () => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(body?.trim()).toBe('');
      const src = /\bsrc="([^"]+)"/.exec(attributes ?? '')?.[1] ?? '';
      expect(src).not.toMatch(/^(?:[a-z]+:|\/\/)/i);
      expect(existsSync(join(docs, src)), src).toBe(true);
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it('renders docs/openapi.json, beside it', () => {
    expect(html).toContain('data-spec-url="openapi.json"');
    expect(existsSync(join(docs, 'openapi.json'))).toBe(true);
  });

  it('carries a policy that allows nothing from another origin', () => {
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${HTTP_REFERENCE_CSP}">`);
    expect(HTTP_REFERENCE_CSP).toContain("default-src 'none'");
    expect(HTTP_REFERENCE_CSP).toContain("script-src 'self';");
    expect(HTTP_REFERENCE_CSP).not.toMatch(/https?:|\*/);
  });
});

// Chromium renders the page as a reader gets it: served over HTTP, under the page's own policy.
// Debian's `chromium` is what CI installs for the console's browser tests; without it this skips.
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
if (!chromium) console.warn('http-reference.test.ts: no chromium found; the rendering test is skipped');

describe.skipIf(!chromium)('docs/http-reference.html in Chromium', () => {
  it('renders every tag and route of openapi.json', async () => {
    const { createServer } = await import('node:http');
    const { execFile } = await import('node:child_process');
    const server = createServer((request, response) => {
      const path = join(docs, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
      if (!path.startsWith(docs) || !existsSync(path)) {
        response.writeHead(404).end();
        return;
      }
      const type = path.endsWith('.html')
        ? 'text/html'
        : path.endsWith('.json')
          ? 'application/json'
          : 'text/javascript';
      response.writeHead(200, { 'content-type': type }).end(readFileSync(path));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const dom = await new Promise<string>((resolve, reject) => {
        execFile(
          chromium as string,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--virtual-time-budget=20000',
            '--dump-dom',
            `http://127.0.0.1:${port}/http-reference.html`,
          ],
          { maxBuffer: 64 * 1024 * 1024, timeout: 90_000 },
          (error, stdout) => (error ? reject(error) : resolve(stdout)),
        );
      });
      const spec = JSON.parse(readFileSync(join(docs, 'openapi.json'), 'utf8'));
      const paths = Object.keys(spec.paths as Record<string, unknown>);
      expect(paths.length).toBeGreaterThan(10);
      expect(paths.filter((path) => !dom.includes(`>${path}<`))).toEqual([]);
      expect(dom).not.toContain('cdn.redoc.ly/redoc/logo-mini.svg"'); // blocked, so Redoc dropped the image
    } finally {
      server.close();
    }
  }, 120_000);
});
