#!/usr/bin/env node
/**
 * Type-checks every TypeScript snippet of README.md, docs/ and the packages' READMEs under
 * `strict`, against the built packages (their published types, not the workspace sources), so a
 * snippet that stops compiling fails CI instead of a reader.
 *
 * Each ```ts block is one module. Names that stand for the reader's own code are declared in the
 * snippet itself (`declare function myStore(…)`). Errors are reported at the markdown line.
 *
 *   pnpm build && node scripts/check-doc-snippets.mjs
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Inside the workspace, so the snippets resolve the packages and @types/express from its node_modules.
const workDir = join(root, 'node_modules', '.cache', 'doc-snippets');

export function markdownFiles() {
  const files = ['README.md'];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  if (existsSync(join(root, 'docs'))) walk('docs');
  for (const parent of ['packages', 'internal']) {
    for (const name of readdirSync(join(root, parent))) {
      if (existsSync(join(root, parent, name, 'README.md'))) files.push(join(parent, name, 'README.md'));
    }
  }
  return files;
}

/** The ```ts / ```typescript blocks of a markdown text, with the line each one's code starts on. */
export function typescriptBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  let current;
  lines.forEach((line, index) => {
    if (current === undefined && /^```(ts|typescript)\s*$/.test(line)) {
      current = { startLine: index + 2, code: [] };
    } else if (current !== undefined && /^```\s*$/.test(line)) {
      blocks.push({ startLine: current.startLine, code: current.code.join('\n') });
      current = undefined;
    } else if (current !== undefined) {
      current.code.push(line);
    }
  });
  return blocks;
}

function main() {
  for (const dist of ['packages/core/dist', 'packages/express/dist', 'internal/dev-idp/dist']) {
    if (!existsSync(join(root, dist))) {
      console.error(`doc snippets: ${dist} is missing; run \`pnpm build\` first`);
      process.exit(2);
    }
  }
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  writeFileSync(join(workDir, 'package.json'), '{ "type": "module", "private": true }\n');
  const origins = new Map();
  let count = 0;
  for (const file of markdownFiles()) {
    for (const block of typescriptBlocks(readFileSync(join(root, file), 'utf8'))) {
      const name = `${file.replace(/[/\\.]/g, '_')}_L${block.startLine}.ts`;
      // `export {}` keeps a snippet without imports a module, so top-level await and names stay local.
      writeFileSync(join(workDir, name), `${block.code}\nexport {};\n`);
      origins.set(name, { file, startLine: block.startLine });
      count += 1;
    }
  }
  writeFileSync(
    join(workDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      },
      include: ['*.ts'],
    }),
  );
  const tsc = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(workDir, 'tsconfig.json'),
      '--pretty',
      'false',
    ],
    { encoding: 'utf8' },
  );
  const output = `${tsc.stdout}${tsc.stderr}`.trim();
  if (tsc.status === 0) {
    console.log(`doc snippets: ${count} TypeScript snippets compile under strict`);
    return;
  }
  // "README_md_L123.ts(4,7): error TS…" → "README.md:126:7: error TS…"
  const located = output.replace(/^(\S+?\.ts)\((\d+),(\d+)\)/gm, (whole, path, line, column) => {
    const origin = origins.get(relative(workDir, join(workDir, path)).split(/[/\\]/).pop());
    return origin ? `${origin.file}:${origin.startLine + Number(line) - 1}:${column}` : whole;
  });
  console.error(located);
  console.error(`doc snippets: TypeScript errors in the snippets above (${count} checked)`);
  process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
