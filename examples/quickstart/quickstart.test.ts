import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const QUICKSTART = [
  '--conditions=@rialto-exchange/source',
  '--import',
  'tsx',
  'examples/quickstart/index.ts',
];

async function runQuickstart(env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, QUICKSTART, {
      cwd: root,
      env: { ...process.env, QUICKSTART_EXIT_AFTER_DEMO: '1', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

describe('quickstart', () => {
  it('performs a real exchange end to end and exits cleanly', async () => {
    const { code, stdout, stderr } = await runQuickstart({ PORT: '0' });
    expect(code).toBe(0);
    expect(stdout).toContain('✔ exchange succeeded');
    expect(stdout).toMatch(/Admin console: http:\/\/127\.0\.0\.1:\d+\/rialto-admin\n {2}admin token: \S{32}/);
    expect(stdout).toMatch(/api_key: rialto_ak_[0-9a-f-]{36}_/);
    expect(stdout).toContain('"org_name": "Quickstart Capital"');
    expect(stdout).toContain('"email": "ada@example.com"');
    expect(stdout).toContain('"scope": "openid email profile aud:identity aud:primary-issuance"');
    expect(stderr).toContain('development defaults');
    // The one warning it shows is about the embedded store, not the production one it tells users to avoid.
    expect(stderr).not.toContain('RIALTO_ANY_AUDIENCE');
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  // Before: a busy port printed Node's EADDRINUSE stack trace.
  it('names a busy port and how to pick another, without a stack trace', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    try {
      const { code, stdout, stderr } = await runQuickstart({ PORT: String(port) });
      expect(code).toBe(1);
      expect(stderr).toContain(
        `✘ Port ${port} on 127.0.0.1 is busy. Stop what uses it, or pick another port: PORT=${port + 1} bash scripts/quickstart.sh (PORT=0 picks a free one).`,
      );
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(stdout).not.toContain('Starting a local OpenID Connect provider');
    } finally {
      blocker.close();
    }
  }, 60_000);

  it('refuses a PORT that is not a port number', async () => {
    const { code, stderr } = await runQuickstart({ PORT: 'http' });
    expect(code).toBe(1);
    expect(stderr).toContain('✘ PORT must be a port number from 0 to 65535, got "http".');
  }, 60_000);

  it('scripts/quickstart.sh says what it installs before it runs, and passes PORT on', async () => {
    const { stdout } = await run('bash', ['scripts/quickstart.sh'], {
      cwd: root,
      env: { ...process.env, PORT: '0', QUICKSTART_EXIT_AFTER_DEMO: '1' },
      timeout: 120_000,
    });
    const installing = stdout.indexOf('▸ Installing dependencies with pnpm');
    const installed = stdout.indexOf('▸ Dependencies installed; starting the quickstart on port 0…');
    expect(installing).toBeGreaterThanOrEqual(0);
    expect(installed).toBeGreaterThan(installing);
    expect(stdout.slice(installing, installed)).toMatch(/\n {2}\S/); // pnpm's own progress, indented
    expect(stdout).toContain('✔ exchange succeeded');
    expect(stdout).toMatch(/Admin console: http:\/\/127\.0\.0\.1:\d+\/rialto-admin\n {2}admin token: \S{32}/);
  }, 120_000);
});
