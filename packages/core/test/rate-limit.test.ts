import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

describe('rate limits', () => {
  let idp: LocalIssuer;
  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());
  const token = () => idp.sign(idTokenClaims(idp.issuer));

  it('answers rate_limited 429 with Retry-After once a client address spends its budget', async () => {
    const t = createTestApp({
      rateLimit: { perIp: { limit: 3, windowSeconds: 60 }, perOrganization: false },
    });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    for (let i = 0; i < 3; i++)
      expect((await exchange(t.app, apiKey, { token: await token() })).status).toBe(200);
    const limited = await exchange(t.app, apiKey, { token: await token() });
    expectFailsWith(limited, 429, 'rate_limited', /client address/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(20);
    expectFailsWith(
      await request(t.app).post('/identity/auth/refresh').send({ refresh_token: 'x' }),
      429,
      'rate_limited',
    );
  });

  it('counts invalid keys against the address, so keys cannot be guessed at speed', async () => {
    const t = createTestApp({
      rateLimit: { perIp: { limit: 5, windowSeconds: 60 }, perOrganization: false },
    });
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await exchange(t.app, `guess-${i}`, { token: 'x' })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it("limits an organization's exchanges without affecting other organizations", async () => {
    const t = createTestApp({
      rateLimit: { perIp: false, perOrganization: { limit: 2, windowSeconds: 60 } },
    });
    const other = await startLocalIssuer();
    try {
      const acme = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
      const globex = await registerOrganization(t.app, { name: 'Globex', issuer: other.issuer });
      expect((await exchange(t.app, acme.apiKey, { token: await token() })).status).toBe(200);
      expect((await exchange(t.app, acme.apiKey, { token: await token() })).status).toBe(200);
      expectFailsWith(
        await exchange(t.app, acme.apiKey, { token: await token() }),
        429,
        'rate_limited',
        /organization/,
      );
      const globexToken = await other.sign(idTokenClaims(other.issuer));
      expect((await exchange(t.app, globex.apiKey, { token: globexToken })).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it("does not let forged keys naming an organization spend that organization's budget", async () => {
    const t = createTestApp({
      rateLimit: { perIp: false, perOrganization: { limit: 2, windowSeconds: 60 } },
    });
    const acme = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const forged = `${acme.apiKey.slice(0, -43)}${'A'.repeat(43)}`;
    for (let i = 0; i < 5; i++)
      expectFailsWith(await exchange(t.app, forged, { token: 'x' }), 401, 'invalid_api_key');
    expect((await exchange(t.app, acme.apiKey, { token: await token() })).status).toBe(200);
  });

  it('can be turned off', async () => {
    const t = createTestApp({ rateLimit: false });
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => exchange(t.app, 'nope', { token: 'x' })),
    );
    expect(new Set(responses.map((response) => response.status))).toEqual(new Set([401]));
  });

  // A rate limit missing `limit` used to resolve to 0: every request answered 429 with
  // `Retry-After: Infinity`. Now rialtoExchange() refuses it before serving anything.
  it('refuses a rate limit without `limit` at start-up, naming the option', () => {
    expect(() => createTestApp({ rateLimit: { perIp: { windowSeconds: 60 } } as never })).toThrow(
      new TypeError('createRialtoExchange: `rateLimit.perIp.limit` is required'),
    );
  });

  it('refuses a misspelt option at start-up with the closest valid name', () => {
    expect(() => createTestApp({ adminTokne: 'x'.repeat(32) } as never)).toThrow(
      new TypeError('createRialtoExchange: unknown option `adminTokne`; did you mean `adminToken`?'),
    );
  });
});
