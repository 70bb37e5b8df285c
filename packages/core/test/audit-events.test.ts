import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

describe('audit events', () => {
  let idp: LocalIssuer;
  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());

  it('reports successes, failures and new users, never with a token or key in the payload', async () => {
    const t = createTestApp();
    const seen: Array<[string, Record<string, unknown>]> = [];
    for (const type of [
      'exchange.succeeded',
      'exchange.failed',
      'user.created',
      'organization.created',
    ] as const) {
      t.router.exchange.audit.on(
        type,
        (payload) => void seen.push([type, payload as Record<string, unknown>]),
      );
    }
    const { apiKey, orgId } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const token = await idp.sign(idTokenClaims(idp.issuer));
    await exchange(t.app, apiKey, { token });
    await exchange(t.app, apiKey, { token });
    await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer, { exp: 1 })) });
    await exchange(t.app, 'bad-key', { token });

    const userId = seen.find(([type]) => type === 'user.created')?.[1].userId;
    expect(seen).toEqual([
      ['organization.created', { orgId, name: 'Acme', issuer: idp.issuer }],
      ['user.created', { orgId, userId }],
      ['exchange.succeeded', { orgId, userId, issuer: idp.issuer, userCreated: true }],
      ['exchange.succeeded', { orgId, userId, issuer: idp.issuer, userCreated: false }],
      ['exchange.failed', { code: 'token_expired', status: 401, orgId, issuer: idp.issuer }],
      ['exchange.failed', { code: 'invalid_api_key', status: 401 }],
    ]);
    const serialized = JSON.stringify(seen);
    expect(serialized).not.toContain(token.split('.')[2]);
    expect(serialized).not.toContain(apiKey.slice(-43));
  });

  it('keeps serving when a handler throws or rejects, and logs the handler failure', async () => {
    const logged: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn() {},
      error: (_: object, message?: string) => void logged.push(String(message)),
    };
    const t = createTestApp({ logger });
    t.router.exchange.audit.on('exchange.succeeded', () => {
      throw new Error('handler bug');
    });
    t.router.exchange.audit.on('exchange.succeeded', async () => {
      throw new Error('async handler bug');
    });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const response = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expect(response.status).toBe(200);
    await new Promise((resolve) => setImmediate(resolve));
    expect(logged).toEqual(['rialto-exchange event handler failed', 'rialto-exchange event handler failed']);
  });

  it('stops calling a handler after it unsubscribes', async () => {
    const t = createTestApp();
    let calls = 0;
    const unsubscribe = t.router.exchange.audit.on('exchange.failed', () => {
      calls++;
    });
    await exchange(t.app, 'bad', { token: 'x' });
    unsubscribe();
    await exchange(t.app, 'bad', { token: 'x' });
    expect(calls).toBe(1);
  });
});
