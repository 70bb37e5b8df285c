import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

describe('concurrent exchanges', () => {
  let devIdp: DevIdp;
  let localIdp: LocalIssuer;

  beforeAll(async () => {
    [devIdp, localIdp] = await Promise.all([startDevIdp(), startLocalIssuer()]);
  });
  afterAll(async () => {
    await Promise.all([devIdp.close(), localIdp.close()]);
  });

  it('creates exactly one user for 50 simultaneous first exchanges of the same person', async () => {
    const t = createTestApp();
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: devIdp.issuer });
    const idToken = await devIdp.getIdToken({ email: 'first.time@example.com' });

    const responses = await Promise.all(
      Array.from({ length: 50 }, () => exchange(t.app, apiKey, { token: idToken })),
    );

    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    const userIds = new Set(responses.map((response) => decodeJwt(response.body.access_token).user_id));
    expect(userIds.size).toBe(1);
    expect(await t.store.countUsers()).toBe(1);
  });

  it('fetches discovery and JWKS once for 100 simultaneous exchanges against a never-seen issuer', async () => {
    const t = createTestApp();
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: localIdp.issuer });
    const tokens = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        localIdp.sign(idTokenClaims(localIdp.issuer, { sub: `user-${i}`, email: `user${i}@example.com` })),
      ),
    );
    localIdp.counts = { discovery: 0, jwks: 0, other: 0 };

    const responses = await Promise.all(tokens.map((token) => exchange(t.app, apiKey, { token })));

    expect(responses.map((response) => response.status)).toEqual(Array(100).fill(200));
    expect(localIdp.counts).toEqual({ discovery: 1, jwks: 1, other: 0 });
    expect(await t.store.countUsers()).toBe(100);
  });

  it('fetches discovery and JWKS of the real provider once under a cold burst', async () => {
    const t = createTestApp();
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: devIdp.issuer });
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => devIdp.getIdToken({ email: `burst${i}@example.com` })),
    );
    devIdp.resetRequestCounts();
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => exchange(t.app, apiKey, { token: tokens[i % tokens.length] })),
    );
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(devIdp.requestCounts).toEqual({ discovery: 1, jwks: 1, total: 2 });
  });
});
