import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (directory: string) => {
    for (const entry of readdirSync(join(root, directory), { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        if (path !== join('docs', 'api')) walk(path); // TypeDoc's output, not committed
      } else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  return files;
}

/** The markdown without fenced code blocks and inline code, where `](` is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```\s*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The targets of the inline links `[text](target)` of a markdown text. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map(
    ([, target]) => target as string,
  );
}

/** The anchors GitHub gives a markdown file's headings (github-slugger's rule), and its `<a id>`s. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  const counts = new Map<string, number>();
  const withoutCode = markdown.replace(/^```[^\n]*\n[\s\S]*?^```\s*$/gm, '');
  for (const [, heading] of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = (heading as string)
      .toLowerCase()
      .replace(/<[^>]*>/g, '')
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const seen = counts.get(base) ?? 0;
    counts.set(base, seen + 1);
    found.add(seen === 0 ? base : `${base}-${seen}`);
  }
  for (const [, id] of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) found.add(id as string);
  return found;
}

interface Link {
  from: string;
  target: string;
  /** The repository-relative file the link names. */
  file: string;
  anchor: string | undefined;
}

function relativeLinks(from: string): Link[] {
  const markdown = readFileSync(join(root, from), 'utf8');
  return linkTargets(markdown)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target)) // https:, mailto:
    .map((target) => {
      const [path = '', anchor] = target.split('#', 2);
      const file = path === '' ? from : normalize(join(dirname(from), decodeURIComponent(path)));
      return { from, target, file, anchor };
    });
}

describe('links of README.md and docs/', () => {
  const files = markdownFiles();

  it('finds the guides', () => {
    expect(files).toContain('docs/README.md');
    expect(files.length).toBeGreaterThan(10);
  });

  it('resolves every relative link to a file, and every anchor to a heading of it', () => {
    const broken: string[] = [];
    for (const from of files) {
      for (const link of relativeLinks(from)) {
        const path = join(root, link.file);
        if (!existsSync(path)) {
          broken.push(`${from}: ${link.target} (no such file)`);
          continue;
        }
        if (link.anchor === undefined || link.anchor === '') continue;
        if (statSync(path).isDirectory() || !link.file.endsWith('.md')) {
          broken.push(`${from}: ${link.target} (an anchor into a file that is not markdown)`);
          continue;
        }
        if (!anchors(readFileSync(path, 'utf8')).has(link.anchor)) {
          broken.push(`${from}: ${link.target} (no heading with that anchor)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('reaches every page of docs/ from README.md in at most two clicks', () => {
    const depth = new Map<string, number>([['README.md', 0]]);
    let frontier = ['README.md'];
    for (let click = 1; click <= 2; click += 1) {
      const next: string[] = [];
      for (const from of frontier) {
        if (!from.endsWith('.md') || !existsSync(join(root, from))) continue;
        for (const { file } of relativeLinks(from)) {
          if (!depth.has(file)) {
            depth.set(file, click);
            next.push(file);
          }
        }
      }
      frontier = next;
    }
    const pages = readdirSync(join(root, 'docs'))
      .filter((name) => name.endsWith('.md') || name.endsWith('.html'))
      .map((name) => join('docs', name));
    expect(pages.filter((page) => !depth.has(page))).toEqual([]);
  });
});

describe('anchors', () => {
  it('follows GitHub: lower case, punctuation dropped, spaces to hyphens, repeats numbered', () => {
    const markdown =
      '# Hono, Next.js, Bun, Deno: the fetch binding\n## Running calls: `storeKit.run`\n## A\n## A\n';
    expect([...anchors(markdown)]).toEqual([
      'hono-nextjs-bun-deno-the-fetch-binding',
      'running-calls-storekitrun',
      'a',
      'a-1',
    ]);
  });

  it('ignores headings inside code blocks and counts explicit ids', () => {
    expect([...anchors('```sh\n# not a heading\n```\n<a id="here"></a>text\n')]).toEqual(['here']);
  });
});

describe('linkTargets', () => {
  it('reads inline links but not code', () => {
    const markdown = '[a](x.md) `[b](y.md)` [c](z.md#part "title")\n```\n[d](w.md)\n```\n';
    expect(linkTargets(markdown)).toEqual(['x.md', 'z.md#part']);
  });
});
