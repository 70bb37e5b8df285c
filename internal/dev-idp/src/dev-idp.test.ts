import { createRemoteJWKSet, decodeJwt, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevIdp, startDevIdp } from './index.js';

interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
}

describe('startDevIdp', () => {
  let idp: DevIdp;
  let discovery: DiscoveryDocument;
  let jwks: JWTVerifyGetKey;

  beforeAll(async () => {
    idp = await startDevIdp();
    discovery = (await (
      await fetch(`${idp.issuer}/.well-known/openid-configuration`)
    ).json()) as DiscoveryDocument;
    jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  });

  afterAll(async () => {
    await idp?.close();
  });

  const verify = (token: string) =>
    jwtVerify(token, jwks, { issuer: idp.issuer, audience: idp.clientId, algorithms: ['RS256'] });

  it('listens on an ephemeral loopback port and advertises itself as issuer', () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(idp.issuer).not.toMatch(/\/$/);
    expect(discovery.issuer).toBe(idp.issuer);
    expect(idp.clientId).toBe('partner-app');
    expect(new URL(discovery.jwks_uri).origin).toBe(idp.issuer);
  });

  it('issues an RS256 ID token that verifies against the published JWKS', async () => {
    const token = await idp.getIdToken({ email: 'alice@example.com' });
    const { payload, protectedHeader } = await verify(token);

    expect(protectedHeader.alg).toBe('RS256');
    expect(protectedHeader.kid).toEqual(expect.any(String));
    const published = (await (await fetch(discovery.jwks_uri)).json()) as {
      keys: { kid: string; d?: string }[];
    };
    expect(published.keys.map((key) => key.kid)).toContain(protectedHeader.kid);
    expect(published.keys.every((key) => key.d === undefined)).toBe(true);

    expect(payload.iss).toBe(idp.issuer);
    expect(payload.aud).toBe('partner-app');
    expect(payload.sub).toMatch(/^user-[0-9a-f]+$/);
    expect(payload.email).toBe('alice@example.com');
    expect(payload.email_verified).toBe(true);
    expect(payload.exp).toBe((payload.iat ?? 0) + 600);
  });

  it('honours an explicit sub and email_verified=false', async () => {
    const token = await idp.getIdToken({ email: 'bob@example.com', sub: 'bob-123', emailVerified: false });
    const { payload } = await verify(token);
    expect(payload.sub).toBe('bob-123');
    expect(payload.email).toBe('bob@example.com');
    expect(payload.email_verified).toBe(false);
  });

  it('derives distinct subs for distinct users and a stable sub for the same user', async () => {
    const [carol1, dave, carol2] = await Promise.all(
      ['carol@example.com', 'dave@example.com', 'carol@example.com'].map(async (email) => {
        const { payload } = await verify(await idp.getIdToken({ email }));
        return payload.sub;
      }),
    );
    expect(carol1).toBe(carol2);
    expect(carol1).not.toBe(dave);
  });

  it('serves concurrent calls, each with its own claims', async () => {
    const users = Array.from({ length: 10 }, (_, i) => ({
      email: `user${i}@example.com`,
      // Several calls share a sub with different claims to exercise the per-sub serialisation.
      sub: `shared-${i % 3}`,
      emailVerified: i % 2 === 0,
    }));
    const tokens = await Promise.all(users.map((user) => idp.getIdToken(user)));
    const payloads = await Promise.all(tokens.map(async (token) => (await verify(token)).payload));
    payloads.forEach((payload, i) => {
      expect(payload.sub).toBe(users[i]?.sub);
      expect(payload.email).toBe(users[i]?.email);
      expect(payload.email_verified).toBe(users[i]?.emailVerified);
    });
  });

  it('counts discovery and JWKS fetches but not its own flow traffic', async () => {
    idp.resetRequestCounts();
    expect(idp.requestCounts).toEqual({ discovery: 0, jwks: 0, total: 0 });

    await idp.getIdToken({ email: 'erin@example.com' });
    expect(idp.requestCounts).toEqual({ discovery: 0, jwks: 0, total: 0 });

    await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
    expect(idp.requestCounts).toEqual({ discovery: 1, jwks: 0, total: 1 });

    // A fresh key set forces a real JWKS fetch instead of the shared instance's cache.
    const freshJwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    await jwtVerify(await idp.getIdToken({ email: 'erin@example.com' }), freshJwks);
    expect(idp.requestCounts).toEqual({ discovery: 1, jwks: 1, total: 2 });

    idp.resetRequestCounts();
    expect(idp.requestCounts).toEqual({ discovery: 0, jwks: 0, total: 0 });
  });

  it('rejects a user without an email', async () => {
    await expect(idp.getIdToken({ email: '' })).rejects.toThrow(TypeError);
  });
});

describe('startDevIdp options and shutdown', () => {
  it('applies clientId and idTokenTtlSeconds, and close() releases the port', async () => {
    const idp = await startDevIdp({ clientId: 'other-app', idTokenTtlSeconds: 42 });
    try {
      const payload = decodeJwt(await idp.getIdToken({ email: 'frank@example.com' }));
      expect(payload.aud).toBe('other-app');
      expect(payload.exp).toBe((payload.iat ?? 0) + 42);
    } finally {
      await idp.close();
    }
    await idp.close(); // idempotent
    await expect(fetch(`${idp.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });
});
