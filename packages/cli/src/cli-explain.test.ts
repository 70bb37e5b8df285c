import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExchangeExplanation } from '@rialto-exchange/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from '../../express/test/helpers.js';
import { type CliIo, runCli } from './cli.js';

/** `rialto-exchange explain` against a real service listening on a port, with a forging local IdP. */
describe('rialto-exchange explain', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let server: Server;
  let url: string;
  let apiKey: string;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    t = createTestApp();
    ({ apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer }));
    server = t.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.router.close();
    await idp.close();
  });

  async function cli(argv: string[], env: NodeJS.ProcessEnv = {}, stdin = '') {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      env,
      out: (line) => void out.push(line),
      err: (line) => void err.push(line),
      readStdin: async () => stdin,
    };
    const code = await runCli(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('prints every step passing for a valid token, exits 0 and writes nothing', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer));
    t.store.resetWrites();
    const { code, out } = await cli(['explain', token, '--api-key', apiKey, '--url', url]);
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines.slice(0, 12).map((line) => line.split(/\s+/).slice(0, 2))).toEqual(
      [
        'api_key',
        'token_shape',
        'issuer',
        'discovery',
        'signature',
        'times',
        'token_type',
        'audience',
        'claims',
        'grant',
        'policy',
        'linking',
      ].map((step) => ['pass', step]),
    );
    expect(out).toContain(`iss=${idp.issuer}`);
    expect(out).toContain('outcome=created');
    expect(lines.at(-1)).toBe('The exchange would succeed.');
    expect(out).not.toContain(token);
    expect(out).not.toContain(apiKey);
    expect(t.store.writes).toEqual([]);
  });

  it('explains a token-endpoint request with --grant-type and --audience: the same steps as the exchange', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer, { sub: 'oauth-user' }));
    const seed = await cli(['explain', token, '--api-key', apiKey, '--url', url, '--json']);
    const oauth = await cli([
      'explain',
      token,
      '--api-key',
      apiKey,
      '--url',
      url,
      '--json',
      '--grant-type',
      'token-exchange',
      '--audience',
      'identity',
    ]);
    expect(oauth.code).toBe(0);
    const steps = (out: string) =>
      (JSON.parse(out) as ExchangeExplanation).steps.map(({ step, result }) => [step, result]);
    expect(steps(oauth.out)).toEqual(steps(seed.out));
    expect(JSON.parse(oauth.out).would_succeed).toBe(true);

    const wrong = await cli([
      'explain',
      token,
      '--api-key',
      apiKey,
      '--url',
      url,
      '--grant-type',
      'password',
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toMatch(/^--grant-type must be token-exchange or jwt-bearer/);
  });

  it('reports the grant step of a token-endpoint request narrowed with --audience, --resource and --scope', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer, { sub: 'narrowed-user' }));
    const base = ['explain', token, '--api-key', apiKey, '--url', url, '--grant-type', 'jwt-bearer'];
    t.store.resetWrites();

    const narrowed = await cli([...base, '--scope', 'openid aud:identity', '--json']);
    expect(narrowed.code).toBe(0);
    const grant = (JSON.parse(narrowed.out) as ExchangeExplanation).steps.find(
      ({ step }) => step === 'grant',
    );
    expect(grant).toEqual({
      step: 'grant',
      result: 'pass',
      seen: { grant_type: 'jwt_bearer', audience: ['identity'], dpop_required: false },
    });

    const outside = await cli([...base, '--resource', 'https://elsewhere.example.com/']);
    expect(outside.code).toBe(1);
    expect(outside.out).toMatch(
      /^FAIL {2}grant .*\n {6}invalid_target \(400\): .*\n {6}fix: Ask only for audiences/m,
    );
    expect(outside.out.split('\n').at(-1)).toBe('The exchange would answer 400 invalid_target.');

    const scope = await cli([...base, '--scope', 'aud:payments', '--json']);
    expect(scope.code).toBe(1);
    expect(JSON.parse(scope.out).error).toMatchObject({ error: 'invalid_scope', status: 400 });
    expect(t.store.writes).toEqual([]);
  });

  it('names the failing step, its error and a fix, and exits 1; --json prints the explanation', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign(idTokenClaims(idp.issuer, { iat: now - 700, exp: now - 120 }));

    const text = await cli(['explain', token, '--api-key', apiKey, '--url', `${url}/`]);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/^FAIL {2}times +now=\d+ exp=\d+ iat=\d+ seconds_until_exp=-1\d\d /m);
    expect(text.out).toMatch(/^ {6}token_expired \(401\): The token has expired\.$/m);
    expect(text.out).toMatch(/^ {6}fix: The token has expired .*fresh ID token/m);
    expect(text.out).toMatch(/^skip {2}token_type +not run: an earlier step failed$/m);
    expect(text.out.split('\n').at(-1)).toBe('The exchange would answer 401 token_expired.');

    const json = await cli(['explain', token, '--api-key', apiKey, '--url', url, '--json']);
    expect(json.code).toBe(1);
    const explanation = JSON.parse(json.out) as ExchangeExplanation;
    expect(explanation.would_succeed).toBe(false);
    expect(explanation.error).toEqual({
      error: 'token_expired',
      error_description: 'The token has expired.',
      status: 401,
    });
  });

  it('tries a draft policy given by --condition and --claim-mapping, saving nothing', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer, { groups: ['staff'] }));
    const base = ['explain', token, '--api-key', apiKey, '--url', url];

    const refused = await cli([...base, '--condition', '"admins" in claims.groups']);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(
      /^FAIL {2}policy +policy_version=draft dry_run=true condition_result=false /m,
    );
    expect(refused.out).toMatch(/^ {6}access_denied \(403\): The draft policy .* refused the identity/m);

    const admitted = await cli([
      ...base,
      '--condition',
      '"staff" in claims.groups',
      '--claim-mapping',
      'team=claims.groups[0]',
      '--json',
    ]);
    expect(admitted.code).toBe(0);
    const policy = (JSON.parse(admitted.out) as ExchangeExplanation).steps.find(
      (step) => step.step === 'policy',
    );
    expect(policy?.seen).toMatchObject({ condition_result: 'true', mapped_claims: { team: 'staff' } });
  });

  it('reads the token from stdin for -, and the key and URL from RIALTO_API_KEY and RIALTO_URL', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer));
    const { code, out } = await cli(
      ['explain', '-', '--json'],
      { RIALTO_API_KEY: apiKey, RIALTO_URL: url },
      `${token}\n`,
    );
    expect(code).toBe(0);
    expect((JSON.parse(out) as ExchangeExplanation).would_succeed).toBe(true);
  });

  it("prints the service's refusal of the API key with its fix, exit 1", async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer));
    const text = await cli(['explain', token, '--api-key', 'not-a-key', '--url', url]);
    expect(text).toMatchObject({ code: 1, out: '' });
    expect(text.err).toMatch(
      /^The service refused to explain \(401 invalid_api_key\): .*\n {2}fix: Check the key value/,
    );

    const json = await cli(['explain', token, '--api-key', 'not-a-key', '--url', url, '--json']);
    expect(JSON.parse(json.err)).toMatchObject({
      status: 401,
      error: 'invalid_api_key',
      fix: /Check the key/,
    });
  });

  it('says when nothing answers at --url or the URL is not the service, exit 1', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer));
    const closed = await cli(['explain', token, '--api-key', apiKey, '--url', 'http://127.0.0.1:1']);
    expect(closed.code).toBe(1);
    expect(closed.err).toMatch(
      /^explain failed: could not reach http:\/\/127\.0\.0\.1:1\/identity\/auth\/exchange\/explain: /,
    );
    const elsewhere = await cli(['explain', token, '--api-key', apiKey, '--url', `${url}/nowhere`]);
    expect(elsewhere).toMatchObject({ code: 1, err: expect.stringMatching(/answered 404 .*base URL/) });
  });

  it.each([
    [['explain', '--api-key', 'k'], /^Missing the ID token\n\nUsage: rialto-exchange explain/],
    [['explain', 'a.b.c'], /^Missing --api-key \(or RIALTO_API_KEY\)/],
    [['explain', 'a.b.c', 'extra', '--api-key', 'k'], /^Unexpected argument: extra/],
    [['explain', 'a.b.c', '--api-key', 'k', '--url', 'not a url'], /^--url must be an absolute URL/],
    [['explain', 'a.b.c', '--store', 'memory:'], /^explain does not take --store/],
    [
      ['explain', 'a.b.c', '--api-key', 'k', '--scope', 'aud:identity'],
      /^--audience, --resource and --scope need --grant-type/,
    ],
  ])('exits 2 with usage for %j', async (argv, message) => {
    const { code, err } = await cli(argv);
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });
});
