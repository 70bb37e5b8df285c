import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ADMIN_TOKEN = 'hono-example-admin-token';
const root = fileURLToPath(new URL('../..', import.meta.url));

// Every example process this file started, so that afterAll stops it even when it never said
// where it listens (a start-up that hangs would otherwise outlive the test run).
const started: ChildProcess[] = [];

/** Starts examples/hono/index.ts as a user would, on a free port, and returns its URL. */
async function startExample(): Promise<{ child: ChildProcess; baseUrl: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@rialto-exchange/source', '--import', 'tsx', 'examples/hono/index.ts'],
    { cwd: root, env: { ...process.env, PORT: '0', RIALTO_ADMIN_TOKEN: ADMIN_TOKEN } },
  );
  started.push(child);
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    output += chunk.toString();
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match?.[1]) return { child, baseUrl: match[1] };
  }
  throw new Error(`the example exited before listening:\n${output}`);
}

async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: text.startsWith('{') ? JSON.parse(text) : undefined,
  };
}

describe('the Hono example', () => {
  let idp: DevIdp;
  let example: { child: ChildProcess; baseUrl: string };

  beforeAll(async () => {
    [idp, example] = await Promise.all([startDevIdp(), startExample()]);
  });

  afterAll(async () => {
    await Promise.all(
      started.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }),
    );
    await idp?.close();
  });

  it('runs a real exchange under /auth beside the host routes, over HTTP', async () => {
    const { baseUrl } = example;
    expect((await call(`${baseUrl}/`)).text).toBe('Acme on Hono');

    const registration = await call(`${baseUrl}/auth/identity/organizations`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: { name: 'Acme', issuer: idp.issuer },
    });
    expect(registration.status).toBe(201);

    const tokens = await call(`${baseUrl}/auth/identity/auth/exchange`, {
      headers: { 'x-api-key': registration.body.api_key },
      body: { token: await idp.getIdToken({ email: 'ada@example.com' }) },
    });
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toBe('no-store');
    const claims = decodeJwt(tokens.body.access_token);
    expect(claims).toMatchObject({ iss: `${baseUrl}/auth`, email: 'ada@example.com' });

    const user = await call(`${baseUrl}/auth/identity/users/${claims.user_id}`, {
      headers: { authorization: `Bearer ${tokens.body.access_token}` },
    });
    expect(user.status).toBe(200);
    expect(user.body.email).toBe('ada@example.com');

    const portfolio = await call(`${baseUrl}/portfolio`, {
      headers: { authorization: `Bearer ${tokens.body.access_token}` },
    });
    expect(portfolio.status).toBe(403);
    expect(portfolio.body).toEqual({
      error: 'insufficient_claims',
      error_description: "The access token's kyc_completed claim must be true.",
    });
  });

  it('answers the exchange errors as JSON and leaves unknown paths to Hono', async () => {
    const { baseUrl } = example;
    const badKey = await call(`${baseUrl}/auth/identity/auth/exchange`, {
      headers: { 'x-api-key': 'nope' },
      body: { token: 'x' },
    });
    expect(badKey.status).toBe(401);
    expect(badKey.headers.get('www-authenticate')).toMatch(/^APIKey realm="rialto"/);
    expect(badKey.body).toEqual({
      error: 'invalid_api_key',
      error_description: expect.any(String),
    });

    const tooLarge = await call(`${baseUrl}/auth/identity/auth/exchange`, {
      headers: { 'x-api-key': 'nope' },
      body: { token: 'x'.repeat(70 * 1024) },
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toEqual({
      error: 'request_too_large',
      error_description: 'The request body must not exceed 65536 bytes.',
    });

    // Streamed without a length: the binding stops reading where the body passes the limit.
    const { port } = new URL(baseUrl);
    const streamed = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/auth/identity/auth/exchange',
      headers: { 'content-type': 'application/json', 'x-api-key': 'nope' },
    });
    streamed.on('error', () => {}); // the server may stop reading before every chunk is written
    for (let chunk = 0; chunk < 80; chunk++) streamed.write('x'.repeat(1024));
    streamed.end();
    const [answer] = (await once(streamed, 'response')) as [IncomingMessage];
    let text = '';
    for await (const chunk of answer) text += chunk;
    expect({ status: answer.statusCode, body: JSON.parse(text) }).toEqual({
      status: 413,
      body: {
        error: 'request_too_large',
        error_description: 'The request body must not exceed 65536 bytes.',
      },
    });

    const unknown = await call(`${baseUrl}/auth/not-an-exchange-route`);
    expect(unknown.status).toBe(404);
    expect(unknown.text).toBe('404 Not Found'); // Hono's own answer: the exchange passed it on
    expect((await call(`${baseUrl}/.well-known/jwks.json`)).status).toBe(404);
    expect((await call(`${baseUrl}/auth/.well-known/jwks.json`)).body.keys).toHaveLength(1);
  });
});
