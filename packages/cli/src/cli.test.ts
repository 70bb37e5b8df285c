import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRialtoExchange } from '@rialto-exchange/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { identity } from '../../storage-adapters/src/conformance/fixtures.js';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
  type StoreKind,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../storage-adapters/test/services.js';
import { type CliIo, runCli } from './cli.js';

const CLI_PATH = fileURLToPath(new URL('./cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function capture(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { env, out: (line) => void out.push(line), err: (line) => void err.push(line) };
  return { io, out, err };
}

describe('the rialto-exchange program', () => {
  it('prints usage for --help with exit 0, and exits 2 with usage for an unknown command or option', async () => {
    const run = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        ['--conditions=@rialto-exchange/source', '--import', 'tsx', CLI_PATH, ...args],
        { cwd: ROOT },
      );

    const help = await run('--help');
    expect(help.stdout).toMatch(/^Usage: rialto-exchange <command>/);
    expect(help.stdout).toContain('suspend-organization --org <org_id>');
    await expect(run('launch-rockets')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^Unknown command: launch-rockets\n\nUsage/),
    });
  });

  it.each([
    [['rotate-signing-key', '--help'], /^Usage: rialto-exchange rotate-signing-key \[--use/],
    [['delete-user', '--help'], /^Usage: rialto-exchange delete-user --org <org_id> --user <user_id>/],
  ])('prints the usage of one command for %j with exit 0', async (argv, usage) => {
    const { io, out } = capture();
    expect(await runCli(argv, io)).toBe(0);
    expect(out.join('\n')).toMatch(usage);
  });

  it.each([
    [[], /^Usage/],
    [['migrate', '--bogus'], /Unknown option '--bogus'/],
    [['migrate', '--org', 'x'], /^migrate does not take --org\n\nUsage: rialto-exchange migrate/],
    [['generate-key', '--store', 'memory:'], /^generate-key does not take --store/],
    [['issue-api-key', '--store', 'memory:'], /^Missing --org\n\nUsage: rialto-exchange issue-api-key/],
    [['rotate-signing-key', '--store', 'memory:', '--alg', 'HS256'], /^--alg must be one of RS256/],
  ])('exits 2 with usage for %j', async (argv, message) => {
    const { io, err } = capture();
    expect(await runCli(argv, io)).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });

  it('asks for a store when none is given, and refuses unknown URLs without echoing them', async () => {
    const { io, err } = capture();
    expect(await runCli(['migrate'], io)).toBe(2);
    expect(err.at(-1)).toMatch(/^No store: pass --store <url> or set RIALTO_STORE\./);
    expect(await runCli(['migrate', '--store', 'mongodb://u:secret@h/db'], io)).toBe(2);
    expect(err.at(-1)).not.toContain('secret');
  });
});

const kinds: StoreKind[] = ['sqlite', 'redis', 'postgres'];

describe.each(kinds)('rialto-exchange commands against the %s store', async (kind) => {
  const service = SERVICE_OF[kind];
  if (service && !(await isServiceUp(...service))) return;

  /** A store as the app opens it (with its prefix), and the CLI arguments that reach the same data. */
  function appStore(): { backing: DisposableStore; storeArgs: string[] } {
    const backing = disposableStore(kind);
    onTestFinished(() => backing.dispose());
    const storeArgs = ['--store', backing.url as string];
    if (backing.prefix?.keyPrefix) storeArgs.push('--key-prefix', backing.prefix.keyPrefix);
    if (backing.prefix?.tablePrefix) storeArgs.push('--table-prefix', backing.prefix.tablePrefix);
    return { backing, storeArgs };
  }

  async function cli(storeArgs: string[], ...argv: string[]) {
    const { io, out, err } = capture();
    const code = await runCli([...argv, ...storeArgs, '--json'], io);
    return { code, json: code === 0 ? JSON.parse(out.join('\n')) : undefined, err: err.join('\n') };
  }

  it("registers an organization with the admin route's rules, in the app's prefixed store", async () => {
    const { backing, storeArgs } = appStore();
    const registered = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'Acme',
      '--issuer',
      'https://acme.example.com/',
      '--audience',
      'primary-issuance',
    );

    expect(registered.code).toBe(0);
    expect(registered.json.api_key).toMatch(new RegExp(`^rialto_ak_${registered.json.org_id}_`));
    expect(await backing.store.getOrganization(registered.json.org_id)).toMatchObject({
      audience: ['identity', 'primary-issuance'],
    });
    expect(await backing.store.listIssuerRegistrations(registered.json.org_id)).toMatchObject([
      { issuer: 'https://acme.example.com' },
    ]);

    const insecure = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'Old',
      '--issuer',
      'http://old.example.com',
    );
    expect(insecure).toMatchObject({
      code: 1,
      err: '{"error":"invalid_request: The issuer must be an absolute https URL."}',
    });
    expect(await backing.store.findIssuerRegistrations('http://old.example.com')).toEqual([]);
    const privateIssuer = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'P',
      '--issuer',
      'https://10.0.0.1',
    );
    expect(privateIssuer).toMatchObject({
      code: 1,
      err: '{"error":"invalid_request: The issuer must resolve to public addresses, not a private one (allowPrivateIssuers is off)."}',
    });
    const metadata = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'M',
      '--issuer',
      'https://169.254.169.254/latest',
      '--allow-private-issuer',
    );
    expect(metadata).toMatchObject({
      code: 1,
      err: '{"error":"invalid_request: The issuer must not point to a link-local address."}',
    });
    expect(
      (
        await cli(
          storeArgs,
          'register-organization',
          '--name',
          'P',
          '--issuer',
          'https://10.0.0.1',
          '--allow-private-issuer',
        )
      ).code,
    ).toBe(0);
    const badLinking = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'X',
      '--issuer',
      'https://x.example.com',
      '--email-linking',
      'always',
    );
    expect(badLinking.code).toBe(1);
    expect(badLinking.err).toMatch(/invalid_request: email_linking: /);
    const nobody = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'Y',
      '--issuer',
      'https://y.example.com',
      '--email-linking',
      'never',
      '--provisioning',
      'link_only',
    );
    expect(nobody.err).toMatch(/invalid_request: provisioning: .*link_only/);
    expect(await backing.store.findIssuerRegistrations('https://y.example.com')).toEqual([]);
  });

  it('rotates to a key of the algorithm the fleet signs with, unless --alg says otherwise', async () => {
    const { backing, storeArgs } = appStore();
    const fleet = createRialtoExchange({
      store: backing.store,
      issuer: 'https://api.example.com',
      accessTokenAlgorithm: 'ES256',
      webhooks: { worker: false },
    });
    await fleet.handle({ method: 'GET', path: '/.well-known/jwks.json', headers: {} });

    const kept = await cli(storeArgs, 'rotate-signing-key');
    expect(kept).toMatchObject({ code: 0, json: { use: 'access_token', alg: 'ES256' } });
    const [newest] = await backing.store.listSigningKeys('access_token');
    expect(newest).toMatchObject({ kid: kept.json.kid, alg: 'ES256' });

    const changed = await cli(storeArgs, 'rotate-signing-key', '--alg', 'RS256');
    expect(changed.json).toMatchObject({ alg: 'RS256' });
    expect((await backing.store.listSigningKeys('access_token')).map((key) => key.alg)).toEqual([
      'RS256',
      'ES256',
      'ES256',
    ]);
  });

  it('registers an issuer with an exchange policy and changes it as the next version', async () => {
    const { backing, storeArgs } = appStore();
    const { json: org } = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'Acme',
      '--issuer',
      'https://acme.example.com',
      '--condition',
      'claims.hd == "acme.example.com"',
      '--claim-mapping',
      'department=claims.department',
    );
    const [registration] = await backing.store.listIssuerRegistrations(org.org_id);
    expect(registration?.policy).toEqual({
      condition: 'claims.hd == "acme.example.com"',
      claimMappings: { department: 'claims.department' },
      linkScope: 'issuer',
      version: 1,
    });

    const updated = await cli(
      storeArgs,
      'update-issuer-policy',
      '--org',
      org.org_id,
      '--issuer-id',
      registration?.registrationId as string,
      '--clear-condition',
      '--claim-mapping',
      'tier="gold"',
      '--link-scope',
      'org',
    );
    expect(updated.json).toEqual({
      org_id: org.org_id,
      issuer_id: registration?.registrationId,
      condition: null,
      claim_mappings: { tier: '"gold"' },
      link_scope: 'org',
      policy_version: 2,
    });

    expect(
      await cli(
        storeArgs,
        'update-issuer-policy',
        '--org',
        org.org_id,
        '--issuer-id',
        registration?.registrationId as string,
        '--condition',
        'claims.hd ==',
      ),
    ).toMatchObject({
      code: 1,
      err: expect.stringMatching(
        /^\{"error":"invalid_request: condition: syntax error: .*line 1, column \d+/,
      ),
    });
  });

  it('removes an issuer registration, ending the sessions begun with it only with --end-sessions', async () => {
    const { backing, storeArgs } = appStore();
    const register = async (issuer: string) => {
      const { json: org } = await cli(
        storeArgs,
        'register-organization',
        '--name',
        'Acme',
        '--issuer',
        issuer,
      );
      const [registration] = await backing.store.listIssuerRegistrations(org.org_id);
      return { orgId: org.org_id as string, issuerId: registration?.registrationId as string };
    };
    const ending = await register('https://acme.example.com');
    const keeping = await register('https://globex.example.com');

    const ended = await cli(
      storeArgs,
      'remove-issuer',
      '--org',
      ending.orgId,
      '--issuer-id',
      ending.issuerId,
      '--end-sessions',
    );
    expect(ended).toMatchObject({
      code: 0,
      json: { org_id: ending.orgId, issuer_id: ending.issuerId, removed: true, sessions_ended: true },
    });
    expect((await backing.store.getOrganization(ending.orgId))?.endedRegistrations).toEqual([
      { registrationId: ending.issuerId, endedAt: expect.any(Number) },
    ]);
    expect(await backing.store.listIssuerRegistrations(ending.orgId)).toEqual([]);

    const kept = await cli(
      storeArgs,
      'remove-issuer',
      '--org',
      keeping.orgId,
      '--issuer-id',
      keeping.issuerId,
    );
    expect(kept).toMatchObject({ code: 0, json: { removed: true, sessions_ended: false } });
    expect((await backing.store.getOrganization(keeping.orgId))?.endedRegistrations).toBeUndefined();

    expect(
      await cli(
        storeArgs,
        'remove-issuer',
        '--org',
        keeping.orgId,
        '--issuer-id',
        keeping.issuerId,
        '--end-sessions',
      ),
    ).toMatchObject({ code: 1, err: expect.stringMatching(/not_found/) });
    expect((await backing.store.getOrganization(keeping.orgId))?.endedRegistrations).toBeUndefined();
    expect(await cli(storeArgs, 'remove-issuer', '--org', keeping.orgId)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^Missing --issuer-id/),
    });
  });

  it('issues and revokes API keys, suspends, resumes and deletes organizations, and deletes users', async () => {
    const { backing, storeArgs } = appStore();
    const { json: org } = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'Acme',
      '--issuer',
      'https://acme.example.com',
    );
    const issued = await cli(storeArgs, 'issue-api-key', '--org', org.org_id);
    expect(issued.code).toBe(0);
    expect((await cli(storeArgs, 'revoke-api-key', '--org', org.org_id, '--key', org.api_key_id)).code).toBe(
      0,
    );
    expect((await backing.store.listActiveApiKeys(org.org_id)).map((key) => key.keyId)).toEqual([
      issued.json.api_key_id,
    ]);
    expect(
      await cli(storeArgs, 'revoke-api-key', '--org', org.org_id, '--key', org.api_key_id),
    ).toMatchObject({
      code: 1,
      err: '{"error":"not_found: No such active API key in this organization."}',
    });

    expect((await cli(storeArgs, 'suspend-organization', '--org', org.org_id)).json).toEqual({
      org_id: org.org_id,
      suspended: true,
    });
    expect((await backing.store.getOrganization(org.org_id))?.suspendedAt).toEqual(expect.any(Number));
    await cli(storeArgs, 'resume-organization', '--org', org.org_id);
    expect((await backing.store.getOrganization(org.org_id))?.suspendedAt).toBeNull();

    const created = await backing.store.findOrCreateUser(
      identity(org.org_id, { iss: 'https://acme.example.com', sub: 'ada', email: 'ada@example.com' }),
    );
    const userId = 'user' in created ? created.user.userId : expect.unreachable();
    expect((await cli(storeArgs, 'delete-user', '--org', org.org_id, '--user', userId)).json).toEqual({
      user_id: userId,
      deleted: true,
    });
    expect(await backing.store.getUserById(userId)).toBeNull();
    expect((await cli(storeArgs, 'delete-user', '--org', org.org_id, '--user', userId)).code).toBe(1);

    expect((await cli(storeArgs, 'delete-organization', '--org', org.org_id)).json).toEqual({
      org_id: org.org_id,
      deleted: true,
    });
    expect(await backing.store.getOrganization(org.org_id)).toBeNull();
    expect(await cli(storeArgs, 'suspend-organization', '--org', org.org_id)).toMatchObject({
      code: 1,
      err: '{"error":"not_found: No such organization."}',
    });
  });
  it("lists a user's identities and sessions and ends one session or all of them", async () => {
    const { backing, storeArgs } = appStore();
    const { json: org } = await cli(
      storeArgs,
      'register-organization',
      '--name',
      'Acme',
      '--issuer',
      'https://acme.example.com',
    );
    const created = await backing.store.findOrCreateUser(
      identity(org.org_id, { iss: 'https://acme.example.com', sub: 'ada', email: 'ada@example.com' }),
    );
    const userId = 'user' in created ? created.user.userId : expect.unreachable();
    const now = Math.floor(Date.now() / 1000);
    const families = [crypto.randomUUID(), crypto.randomUUID()];
    for (const [index, familyId] of families.entries()) {
      await backing.store.saveRefreshToken({
        jti: crypto.randomUUID(),
        familyId,
        orgId: org.org_id,
        userId,
        issuedAt: now - 60 * (index + 1),
        expiresAt: now + 3600,
        kid: 'test',
      });
    }
    const user = ['--org', org.org_id, '--user', userId];

    expect((await cli(storeArgs, 'list-user-identities', ...user)).json).toEqual({
      identities: [
        {
          iss: 'https://acme.example.com',
          subject_claim: 'sub',
          sub: 'ada',
          linked_at: kind === 'redis' ? null : expect.any(String),
        },
      ],
    });
    const sessions = await cli(storeArgs, 'list-user-sessions', ...user);
    expect(sessions.json.sessions.map((session: { session_id: string }) => session.session_id)).toEqual(
      families,
    );

    expect(
      (await cli(storeArgs, 'end-user-session', ...user, '--session', families[0] as string)).json,
    ).toEqual({
      session_id: families[0],
      ended: true,
    });
    expect(
      await cli(storeArgs, 'end-user-session', ...user, '--session', families[0] as string),
    ).toMatchObject({
      code: 1,
      err: '{"error":"not_found: No such session of this user."}',
    });
    expect((await cli(storeArgs, 'end-user-session', ...user, '--all')).json).toEqual({ ended: 1 });
    expect((await cli(storeArgs, 'list-user-sessions', ...user)).json).toEqual({ sessions: [] });

    const { io, err } = capture();
    expect(await runCli(['end-user-session', ...user, ...storeArgs], io)).toBe(2);
    expect(err.join('\n')).toMatch(
      /^Give either --session <session_id> or --all\n\nUsage: rialto-exchange end-user-session/,
    );
    expect(
      await cli(storeArgs, 'list-user-sessions', '--org', org.org_id, '--user', crypto.randomUUID()),
    ).toMatchObject({
      code: 1,
      err: '{"error":"not_found: No such user in your organization."}',
    });
  });

  it('lists and searches organizations and users page by page, lists signing keys, and redelivers a webhook delivery', async () => {
    const { backing, storeArgs } = appStore();
    const orgIds: string[] = [];
    for (const name of ['Acme Capital', 'Globex', 'ACME Europe']) {
      const { json } = await cli(
        storeArgs,
        'register-organization',
        '--name',
        name,
        '--issuer',
        `https://${name.replace(' ', '-').toLowerCase()}.example.com`,
      );
      orgIds.push(json.org_id);
    }
    const all = await cli(storeArgs, 'list-organizations');
    expect(all.code).toBe(0);
    expect(all.json.next_cursor).toBeNull();
    expect(new Set(all.json.organizations.map((org: { org_id: string }) => org.org_id))).toEqual(
      new Set(orgIds),
    );
    const first = await cli(storeArgs, 'list-organizations', '--limit', '2');
    expect(first.json.organizations).toEqual(all.json.organizations.slice(0, 2));
    const rest = await cli(
      storeArgs,
      'list-organizations',
      '--limit',
      '2',
      '--cursor',
      first.json.next_cursor,
    );
    expect(rest.json).toEqual({ organizations: all.json.organizations.slice(2), next_cursor: null });
    const acme = await cli(storeArgs, 'list-organizations', '--query', 'acme');
    expect(acme.json.organizations.map((org: { name: string }) => org.name).sort()).toEqual([
      'ACME Europe',
      'Acme Capital',
    ]);
    expect(await cli(storeArgs, 'list-organizations', '--limit', '500')).toMatchObject({
      code: 1,
      err: '{"error":"invalid_request: limit: must be at most 200"}',
    });

    const orgId = orgIds[0] as string;
    for (const email of ['ada@example.com', 'grace@example.com']) {
      await backing.store.findOrCreateUser(
        identity(orgId, { iss: 'https://acme-capital.example.com', sub: email, email }),
      );
    }
    const users = await cli(storeArgs, 'list-users', '--org', orgId, '--query', 'GRACE');
    expect(users.json).toEqual({
      users: [expect.objectContaining({ email: 'grace@example.com', role: 'member' })],
      next_cursor: null,
    });
    expect(await cli(storeArgs, 'list-users', '--org', crypto.randomUUID())).toMatchObject({
      code: 1,
      err: '{"error":"not_found: No such organization."}',
    });
    const { io, err } = capture();
    expect(await runCli(['list-users', ...storeArgs], io)).toBe(2);
    expect(err.join('\n')).toMatch(/^Missing --org\n\nUsage: rialto-exchange list-users --org/);

    const keys = await cli(storeArgs, 'list-signing-keys');
    expect(keys.code).toBe(0);
    expect(keys.json.keys).toEqual([]);
    await cli(storeArgs, 'rotate-signing-key');
    expect((await cli(storeArgs, 'list-signing-keys')).json.keys).toEqual([
      expect.objectContaining({ use: 'access_token', source: 'store', state: 'active', retired_at: null }),
    ]);

    const now = Math.floor(Date.now() / 1000);
    const subscriptionId = crypto.randomUUID();
    await backing.store.createWebhookSubscription({
      subscriptionId,
      orgId,
      url: 'https://hooks.example.com/rialto',
      description: null,
      eventTypes: ['*'],
      secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=',
      previousSecret: null,
      previousSecretExpiresAt: null,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
    });
    const deliveryId = crypto.randomUUID();
    await backing.store.addWebhookDelivery({
      deliveryId,
      subscriptionId,
      orgId,
      eventId: crypto.randomUUID(),
      eventType: 'user.created',
      payload: '{}',
      status: 'failed',
      nextAttemptAt: null,
      leaseToken: null,
      leaseExpiresAt: null,
      attempts: [
        { attemptedAt: now, durationMs: 5, responseStatus: 500, error: null, responseExcerpt: null },
      ],
      createdAt: now,
      updatedAt: now,
    });
    expect(
      (await cli(storeArgs, 'list-webhook-deliveries', '--org', orgId, '--webhook', subscriptionId)).json,
    ).toEqual({
      deliveries: [
        expect.objectContaining({
          delivery_id: deliveryId,
          status: 'failed',
          attempts: 1,
          last_response_status: 500,
        }),
      ],
    });
    const redelivered = await cli(
      storeArgs,
      'redeliver-webhook',
      '--org',
      orgId,
      '--webhook',
      subscriptionId,
      '--delivery',
      deliveryId,
    );
    expect(redelivered.json).toMatchObject({ delivery_id: deliveryId, status: 'pending', attempts: 1 });
    const [due] = await backing.store.claimWebhookDeliveries({
      now: now + 60,
      limit: 5,
      leaseSeconds: 30,
      leaseToken: 'cli-test',
    });
    expect(due?.deliveryId).toBe(deliveryId);
    expect(
      await cli(
        storeArgs,
        'redeliver-webhook',
        '--org',
        orgId,
        '--webhook',
        subscriptionId,
        '--delivery',
        crypto.randomUUID(),
      ),
    ).toMatchObject({ code: 1, err: '{"error":"not_found: No such delivery of this webhook."}' });
  });
});
