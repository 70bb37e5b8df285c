import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('quickstart', () => {
  it('performs a real exchange end to end and exits cleanly', async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--conditions=@rialto-exchange/source', '--import', 'tsx', 'examples/quickstart/index.ts'],
      { cwd: root, env: { ...process.env, PORT: '0', QUICKSTART_EXIT_AFTER_DEMO: '1' }, timeout: 60_000 },
    );
    expect(stdout).toContain('✔ exchange succeeded');
    expect(stdout).toMatch(/api_key: rialto_ak_[0-9a-f-]{36}_/);
    expect(stdout).toContain('"org_name": "Quickstart Capital"');
    expect(stdout).toContain('"email": "ada@example.com"');
    expect(stdout).toContain('"scope": "openid email profile aud:identity aud:primary-issuance"');
    expect(stderr).toContain('development defaults');
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
