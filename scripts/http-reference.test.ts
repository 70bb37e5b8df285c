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
