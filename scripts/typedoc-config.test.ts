import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const config = JSON.parse(readFileSync(fileURLToPath(new URL('../typedoc.json', import.meta.url)), 'utf8'));

// Issue #22, point 7: with its git lookup on, TypeDoc asks git for a remote called `origin` to link
// sources, and with warnings as errors a checkout whose remote has another name, or no `.git` at
// all (a release tarball), fails `pnpm run docs`. Checked by hand in a copy without `.git`, then
// with `git init` and no remote, then with a remote named `upstream`: all three build.
describe('typedoc.json', () => {
  it('links sources by a fixed template instead of asking git for a remote', () => {
    expect(config.disableGit).toBe(true);
    expect(config.sourceLinkTemplate).toMatch(
      /^https:\/\/github\.com\/[^/]+\/[^/]+\/blob\/main\/\{path\}#L\{line\}$/,
    );
    expect(config.gitRemote).toBeUndefined();
  });
});
