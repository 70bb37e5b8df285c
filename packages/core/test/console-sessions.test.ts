import { createRialtoExchange, type RialtoExchange } from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, SERVICE_ISSUER } from './helpers.js';

/**
 * `exchange.consoleSessions`: what the admin console signs in with. Two exchanges over one store
 * stand for two instances behind a load balancer.
 */

const store = memoryStore();
function instance(adminToken: string | null = ADMIN_TOKEN): RialtoExchange {
  return createRialtoExchange({
    issuer: SERVICE_ISSUER,
    store,
    allowedAudiences: [],
    ...(adminToken === null ? {} : { adminToken }),
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('exchange.consoleSessions', () => {
  it('signs in with the admin token only, and the session is valid on every instance until signed out on any', async () => {
    const [first, second] = [instance(), instance()];
    expect(await first.consoleSessions.signIn('not-the-admin-token', 3600)).toBeNull();
    expect(await first.consoleSessions.signIn(`${ADMIN_TOKEN}x`, 3600)).toBeNull();

    const started = await first.consoleSessions.signIn(ADMIN_TOKEN, 3600);
    expect(started).toEqual({
      sessionId: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expiresAt: expect.any(Number),
    });
    const { sessionId, expiresAt } = started as { sessionId: string; expiresAt: number };
    expect(expiresAt - Math.floor(Date.now() / 1000)).toBeGreaterThanOrEqual(3599);
    expect(await second.consoleSessions.get(sessionId)).toEqual({
      sessionHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      credentialFingerprint: expect.stringMatching(/^admin_token:/),
      createdAt: expect.any(Number),
      expiresAt,
    });
    // The store holds neither the session id nor the admin token.
    const stored = JSON.stringify(await second.consoleSessions.get(sessionId));
    expect(stored).not.toContain(sessionId);
    expect(stored).not.toContain(ADMIN_TOKEN);

    await second.consoleSessions.end(sessionId);
    expect(await first.consoleSessions.get(sessionId)).toBeNull();
    await second.consoleSessions.end(sessionId);
    expect(await first.consoleSessions.get('')).toBeNull();
    expect(await first.consoleSessions.get('x'.repeat(500))).toBeNull();
  });

  it('ends admin-token sessions once the admin token is replaced, but not sessions the host started', async () => {
    const before = instance();
    const adminSession = (await before.consoleSessions.signIn(ADMIN_TOKEN, 3600)) as { sessionId: string };
    const hostSession = await before.consoleSessions.start('sso|alice', 3600);

    const rotated = instance('a-new-admin-token-0123456789');
    expect(await rotated.consoleSessions.get(adminSession.sessionId)).toBeNull();
    expect(await rotated.consoleSessions.get(hostSession.sessionId)).toMatchObject({
      credentialFingerprint: 'host:sso|alice',
    });
    const withoutToken = instance(null);
    expect(await withoutToken.consoleSessions.signIn(ADMIN_TOKEN, 3600)).toBeNull();
    expect(await withoutToken.consoleSessions.get(adminSession.sessionId)).toBeNull();
  });

  it('expires a session at its expiry', async () => {
    const exchange = instance();
    const { sessionId, expiresAt } = (await exchange.consoleSessions.signIn(ADMIN_TOKEN, 60)) as {
      sessionId: string;
      expiresAt: number;
    };
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime((expiresAt - 1) * 1000);
    expect(await exchange.consoleSessions.get(sessionId)).not.toBeNull();
    vi.setSystemTime(expiresAt * 1000);
    expect(await exchange.consoleSessions.get(sessionId)).toBeNull();
  });

  it('refuses a lifetime that is not a positive whole number of seconds', async () => {
    const exchange = instance();
    await expect(exchange.consoleSessions.start('sso|alice', 0)).rejects.toThrow(
      new TypeError('consoleSessions: ttlSeconds must be a positive whole number of seconds'),
    );
    await expect(exchange.consoleSessions.signIn(ADMIN_TOKEN, 1.5)).rejects.toThrow(TypeError);
  });
});

describe('exchange.health.summary', () => {
  it('reports the store, the IdP key-set cache and the outbox backlog', async () => {
    expect(await instance().health.summary()).toEqual({
      store: { status: 'UP', latencyMs: expect.any(Number) },
      idpKeySets: { cached: 0, oldestAgeSeconds: null },
      outboxBacklog: 0,
    });
  });
});
