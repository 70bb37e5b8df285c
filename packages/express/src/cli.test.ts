import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeFromUrl } from '@rialto-exchange/storage-adapters';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from './cli.js';

describe('rialto-exchange CLI', () => {
  let directory: string;
  let url: string;
  let out: string[];
  let err: string[];
  let io: CliIo;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'rialto-cli-'));
    url = `sqlite:${join(directory, 'rialto.db')}`;
    out = [];
    err = [];
    io = {
      env: { RIALTO_STORE: url },
      out: (line) => void out.push(line),
      err: (line) => void err.push(line),
    };
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  async function registered() {
    expect(
      await runCli(
        [
          'register-organization',
          '--name',
          'Acme',
          '--issuer',
          'https://acme.example.com/',
          '--audience',
          'primary-issuance',
        ],
        io,
      ),
    ).toBe(0);
    return JSON.parse(out.join('\n')) as { org_id: string; api_key: string; api_key_id: string };
  }

  it('registers an organization and prints its API key once', async () => {
    const org = await registered();
    expect(org.api_key).toMatch(new RegExp(`^rialto_ak_${org.org_id}_`));
    const store = storeFromUrl(url);
    try {
      expect(await store.getOrganization(org.org_id)).toMatchObject({
        audience: ['identity', 'primary-issuance'],
      });
      expect(await store.listIssuerRegistrations(org.org_id)).toMatchObject([
        { issuer: 'https://acme.example.com' },
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses private and metadata issuers as the admin route does; --allow-private-issuer opens private ones', async () => {
    const register = (issuer: string, ...flags: string[]) =>
      runCli(['register-organization', '--name', 'Acme', '--issuer', issuer, ...flags], io);
    expect(await register('https://10.0.0.1')).toBe(1);
    expect(err.pop()).toBe(
      'register-organization failed: The issuer must resolve to public addresses, not a private one (allowPrivateIssuers is off).',
    );
    expect(await register('http://169.254.169.254/latest', '--allow-private-issuer')).toBe(1);
    expect(err.pop()).toBe(
      'register-organization failed: The issuer must not point to a link-local address.',
    );
    expect(out).toEqual([]);
    expect(await register('https://10.0.0.1', '--allow-private-issuer')).toBe(0);
  });

  it('rotates the signing key in the store', async () => {
    await registered();
    out.length = 0;
    expect(await runCli(['rotate-signing-key'], io)).toBe(0);
    expect(await runCli(['rotate-signing-key'], io)).toBe(0);
    expect(out[1]).toMatch(
      /^New access_token key \S+ is published now and signs from \d{4}-.+ on every instance\.$/,
    );
    const store = storeFromUrl(url);
    try {
      expect(await store.listSigningKeys('access_token')).toHaveLength(2);
    } finally {
      await store.close();
    }
  });

  it('issues and revokes API keys', async () => {
    const org = await registered();
    out.length = 0;
    expect(await runCli(['issue-api-key', '--org', org.org_id], io)).toBe(0);
    const second = JSON.parse(out.join('\n'));
    expect(await runCli(['revoke-api-key', '--org', org.org_id, '--key', org.api_key_id], io)).toBe(0);
    const store = storeFromUrl(url);
    try {
      expect((await store.listActiveApiKeys(org.org_id)).map((key) => key.keyId)).toEqual([
        second.api_key_id,
      ]);
    } finally {
      await store.close();
    }
    expect(await runCli(['revoke-api-key', '--org', org.org_id, '--key', org.api_key_id], io)).toBe(1);
    expect(err.at(-1)).toBe('revoke-api-key failed: no such active key in that organization');
  });

  it('generates a PKCS#8 key for RIALTO_ACCESS_TOKEN_KEY without a store', async () => {
    expect(await runCli(['generate-key', '--alg', 'ES256'], { ...io, env: {} })).toBe(0);
    expect(out[0]).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----$/);
  });

  it.each([
    [[], /^Usage/],
    [['launch-rockets'], /^Unknown command: launch-rockets/],
    [['migrate', '--bogus'], /Unknown option '--bogus'/],
  ])('explains usage for %j with exit code 2', async (argv, message) => {
    expect(await runCli(argv, io)).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });

  it('asks for a store when none is given, and refuses unknown URLs without echoing them', async () => {
    expect(await runCli(['migrate'], { ...io, env: {} })).toBe(2);
    expect(err.at(-1)).toBe('No store: pass --store <url> or set RIALTO_STORE.');
    expect(await runCli(['migrate', '--store', 'mongodb://u:secret@h/db'], io)).toBe(2);
    expect(err.at(-1)).not.toContain('secret');
  });
});
