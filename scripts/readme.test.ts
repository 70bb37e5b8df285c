import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Store } from '../packages/core/src/index.js';
import { OPTION_NAMES, resolveOptions } from '../packages/core/src/options/options.js';
// @ts-expect-error: plain JavaScript run by CI, without declarations
import { typescriptBlocks } from './check-doc-snippets.mjs';
// @ts-expect-error: plain JavaScript run by CI, without declarations
import { readmeSnippet } from './install-as-user.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
// The options and environment tables moved from the README to this guide; they are checked there.
const configurationGuide = 'docs/configuration.md';
const configuration = readFileSync(join(root, configurationGuide), 'utf8');

/** The text under a `##` heading of a markdown file, up to the next `#` or `##` heading. */
function section(markdown: string, file: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `${file} has a "${heading}" section`).toBeGreaterThan(-1);
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(/\n##? /);
  return end === -1 ? rest : rest.slice(0, end);
}
const optionsTable = () => section(configuration, configurationGuide, '## Options');
const environmentTable = () => section(configuration, configurationGuide, '## Environment variables');

function sourceFiles(directory: string, endings: readonly string[] = ['.ts']): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path, endings);
    const isSource = endings.some((ending) => entry.name.endsWith(ending));
    return isSource && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('README.md and docs/configuration.md', () => {
  it('has an Options row for every option the schema accepts', () => {
    const table = optionsTable();
    const missing = OPTION_NAMES.filter((name) => !new RegExp(`^\\| \`${name}[\`(]`, 'm').test(table));
    expect(missing).toEqual([]);
  });

  // The defaults are set in the options schema; the table restates them for readers of the guide.
  it('gives in its Options table the default each option resolves to', () => {
    const table = optionsTable();
    const required = { store: {} as Store, issuer: 'https://rialto.example' };
    const defaults: Record<string, unknown> = { ...resolveOptions(required) };
    const stated = OPTION_NAMES.filter(
      (name) => !(name in required) && ['number', 'string', 'boolean'].includes(typeof defaults[name]),
    );
    expect(stated.length).toBeGreaterThan(20);
    const misstated = stated.filter((name) => {
      const cell = new RegExp(`^\\| \`${name}[\`(][^|]*\\| ([^|]*) \\|`, 'm').exec(table)?.[1] ?? '';
      const value = String(defaults[name]).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return !new RegExp(`(?<![\\w.])${value}(?![\\w.])`).test(cell);
    });
    expect(misstated).toEqual([]);
  });

  it('lists every RIALTO_* variable the packages read in its environment table', () => {
    const table = environmentTable();
    const read = new Set<string>();
    const warningCodes = new Set<string>();
    for (const directory of [
      'packages/core/src',
      'packages/express/src',
      'packages/storage-adapters/src',
      'packages/cli/src',
      'internal/dev-idp/src',
    ]) {
      for (const file of sourceFiles(join(root, directory))) {
        const source = readFileSync(file, 'utf8');
        for (const [name] of source.matchAll(/\bRIALTO_[A-Z_]+\b/g)) read.add(name);
        // Codes of process warnings (`code: 'RIALTO_…'`) are not variables.
        for (const [, code] of source.matchAll(/code: '(RIALTO_[A-Z_]+)'/g)) warningCodes.add(code as string);
      }
    }
    const documented = (name: string) => table.includes(`\`${name}\``);
    const variables = [...read].filter((name) => !warningCodes.has(name));
    expect(variables.length).toBeGreaterThan(0);
    expect(variables.filter((name) => !documented(name))).toEqual([]);
  });

  // RIALTO_REDIS_CLUSTER_PORTS (scripts/redis-cluster.sh) once went unlisted: the table says it
  // names every variable anything in the repository reads, so the scripts and examples count too.
  it('lists every variable the scripts, examples and CI read in its environment table', () => {
    const table = environmentTable();
    const shellDefaults = new Set(['PATH', 'TMPDIR']);
    const read = new Set<string>();
    const files = [
      ...sourceFiles(join(root, 'examples'), ['.ts']),
      ...sourceFiles(join(root, 'scripts'), ['.ts', '.mjs', '.sh']),
      join(root, '.ci/run'),
    ];
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      const patterns = [
        /\bprocess\.env\.([A-Z_]+)/g,
        /\benv\.([A-Z_]+)/g,
        /\$\{([A-Z_]+):-/g,
        /^\s*(?:if .*then )?export ([A-Z_]+)=/gm,
      ];
      for (const pattern of patterns)
        for (const [, name] of source.matchAll(pattern)) read.add(name as string);
    }
    const undocumented = [...read].filter(
      (name) => !shellDefaults.has(name) && !table.includes(`\`${name}\``),
    );
    expect(read.size).toBeGreaterThan(0);
    expect(undocumented).toEqual([]);
  });

  // The app snippet once never called listen(); the install-as-user test runs this exact block.
  it('gives a "Use it in your app" block that the install-as-user test can run: it listens on PORT', () => {
    const snippet: string = readmeSnippet(readme, '## Use it in your app');
    expect(snippet).toContain("from '@rialto-exchange/express'");
    expect(snippet).toMatch(/app\.listen\(port/);
    expect(snippet).toContain('process.env.PORT');
  });
});

describe('typescriptBlocks', () => {
  it('returns each ts block with the markdown line its code starts on', () => {
    const markdown = [
      '# T',
      '```ts',
      'const a = 1;',
      '```',
      'text',
      '```sh',
      'ls',
      '```',
      '```typescript',
      'let b;',
      '```',
    ].join('\n');
    expect(typescriptBlocks(markdown)).toEqual([
      { startLine: 3, code: 'const a = 1;' },
      { startLine: 10, code: 'let b;' },
    ]);
  });
});
