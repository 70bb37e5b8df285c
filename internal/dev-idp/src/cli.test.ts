import { createServer } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevIdpCliIo, runDevIdpCli } from './cli.js';
import type { DevIdp } from './index.js';
import { MINT_PATH } from './mint-path.js';

function captureIo(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: DevIdpCliIo = { env, out: (line) => out.push(line), err: (line) => err.push(line) };
  return { io, out, err };
}

describe('rialto-dev-idp', () => {
  let idp: DevIdp;
  let served: ReturnType<typeof captureIo>;

  beforeAll(async () => {
    served = captureIo();
    const result = await runDevIdpCli(['--port', '0'], served.io);
    expect(result.code).toBe(0);
    idp = result.idp as DevIdp;
  });
  afterAll(() => idp?.close());

  it('serves discovery on loopback and prints the issuer and how to mint a token', async () => {
    expect(served.out[0]).toBe(
      `dev IdP listening: issuer ${idp.issuer}, client_id partner-app (the aud of its ID tokens)`,
    );
    expect(served.out.join('\n')).toContain(
      `rialto-dev-idp token --email ada@example.com --issuer ${idp.issuer}`,
    );
    const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
    };
    expect(discovery.issuer).toBe(idp.issuer);
  });

  it('token prints an ID token for any email and sub, alone on standard output', async () => {
    const { io, out, err } = captureIo({ DEV_IDP_ISSUER: idp.issuer });
    const { code } = await runDevIdpCli(
      ['token', '--email', 'grace@example.com', '--sub', 'grace-1', '--unverified'],
      io,
    );
    expect({ code, err }).toEqual({ code: 0, err: [] });
    expect(out).toHaveLength(1);
    expect(decodeJwt(out[0] as string)).toMatchObject({
      iss: idp.issuer,
      aud: 'partner-app',
      sub: 'grace-1',
      email: 'grace@example.com',
      email_verified: false,
    });
  });

  it('token without --email explains the usage and exits 2', async () => {
    const { io, out, err } = captureIo();
    expect((await runDevIdpCli(['token'], io)).code).toBe(2);
    expect(out).toEqual([]);
    expect(err[0]).toMatch(/^token needs --email <email>/);
  });

  it('token says when no IdP answers, instead of a stack trace', async () => {
    const { io, err } = captureIo();
    expect(
      (await runDevIdpCli(['token', '--email', 'a@example.com', '--issuer', 'http://127.0.0.1:1'], io)).code,
    ).toBe(1);
    expect(err).toEqual([
      'No dev IdP answers at http://127.0.0.1:1: start one with `rialto-dev-idp` or pass --issuer <url>.',
    ]);
  });

  it('names the busy port instead of throwing', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const { io, err } = captureIo();
      const result = await runDevIdpCli(['--port', String(port)], io);
      expect(result).toEqual({ code: 1 });
      expect(err).toEqual([
        `Port ${port} on 127.0.0.1 is busy: stop what uses it or pass --port <another port> (0 picks a free one).`,
      ]);
    } finally {
      blocker.close();
    }
  });

  it.each([
    ['not json', 400, 'the body must be JSON: { "email": "…", "sub"?: "…" }'],
    [
      JSON.stringify({ email: '' }),
      400,
      '`email` must be a non-empty string, `sub` a non-empty string and `email_verified` a boolean',
    ],
    [
      JSON.stringify({ email: 'a@example.com', email_verified: 'yes' }),
      400,
      '`email` must be a non-empty string, `sub` a non-empty string and `email_verified` a boolean',
    ],
  ])('the mint endpoint refuses %s with %i', async (body, status, error) => {
    const response = await fetch(`${idp.issuer}${MINT_PATH}`, { method: 'POST', body });
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ error });
  });

  it('the mint endpoint answers 405 to GET', async () => {
    const response = await fetch(`${idp.issuer}${MINT_PATH}`);
    expect(response.status).toBe(405);
  });
});
