import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { resolveOptions } from './options.js';

const store = {} as Store;

describe('resolveOptions', () => {
  it('fills every default', () => {
    expect(resolveOptions({ store, issuer: 'https://api.example.com/' })).toMatchObject({
      issuer: 'https://api.example.com',
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 1800,
      refreshTokenRetryGraceSeconds: 10,
      accessTokenAlgorithm: 'RS256',
      allowInsecureIssuers: false,
      allowPrivateIssuers: false,
      clockToleranceSeconds: 30,
      fetchTimeoutMs: 5000,
      maxRemoteDocumentBytes: 524288,
      discoveryCacheTtlSeconds: 600,
      unknownKidCooldownSeconds: 30,
      maxBodyBytes: 65536,
      defaultEmailLinking: 'verified',
      requireClientIds: false,
      singleUseIdTokens: false,
    });
  });

  it.each([
    [{ issuer: 'https://a.example' }, /`store` is required/],
    [{ store, issuer: 'not a url' }, /`issuer` must be an absolute URL/],
    [{ store, issuer: 'http://api.example.com' }, /https URL \(http is allowed on localhost only\)/],
    [
      { store, issuer: 'https://a.example', accessTokenTtlSeconds: 0 },
      /`accessTokenTtlSeconds` must be a positive number/,
    ],
    [
      { store, issuer: 'https://a.example', refreshTokenRetryGraceSeconds: -1 },
      /`refreshTokenRetryGraceSeconds` must be zero or a positive number/,
    ],
    [
      { store, issuer: 'https://a.example', refreshTokenTtlSeconds: 60, refreshTokenRetryGraceSeconds: 60 },
      /`refreshTokenRetryGraceSeconds` must be below `refreshTokenTtlSeconds`/,
    ],
    [{ store, issuer: 'https://a.example', fetchTimeoutMs: Number.NaN }, /`fetchTimeoutMs`/],
    [{ store, issuer: 'https://a.example', refreshTokenSecret: 'short' }, /at least 32 bytes/],
    [{ store, issuer: 'https://a.example', adminToken: 'short' }, /at least 16 characters/],
    [
      { store, issuer: 'https://a.example', defaultEmailLinking: 'always' },
      /`defaultEmailLinking` must be one of verified, unless_unverified, never/,
    ],
    [
      { store, issuer: 'https://a.example', requireClientIds: 'yes' },
      /`requireClientIds` must be true or false/,
    ],
    [
      { store, issuer: 'https://a.example', singleUseIdTokens: 1 },
      /`singleUseIdTokens` must be true or false/,
    ],
    [
      { store, issuer: 'https://a.example', allowPrivateIssuers: 'yes' },
      /`allowPrivateIssuers` must be true or false/,
    ],
    [{ store, issuer: 'https://a.example', fetch: 'https://proxy' }, /`fetch` must be a fetch function/],
    [
      { store, issuer: 'https://a.example', accessTokenAlgorithm: 'HS256' },
      /must be one of RS256, PS256, ES256, EdDSA/,
    ],
  ])('throws a TypeError naming the option for %j', (input, message) => {
    expect(() => resolveOptions(input as never)).toThrow(TypeError);
    expect(() => resolveOptions(input as never)).toThrow(message);
  });

  it.each([
    [
      { adminTokne: 'a'.repeat(16) },
      'createRialtoExchange: unknown option `adminTokne`; did you mean `adminToken`?',
    ],
    [{ accessTokenTTLSeconds: 60 }, 'did you mean `accessTokenTtlSeconds`?'],
    [{ rateLimit: { perIpp: false } }, 'unknown option `perIpp`; did you mean `perIp`? (in `rateLimit`)'],
    [
      { webhooks: { worker: { every: 5 } } },
      'unknown option `every`; expected one of `intervalMs` (in `webhooks.worker`)',
    ],
    [{ completelyUnrelated: true }, 'createRialtoExchange: unknown option `completelyUnrelated`'],
  ])('refuses the unknown option in %j, naming the closest valid one', (extra, message) => {
    const input = { store, issuer: 'https://a.example', ...extra };
    expect(() => resolveOptions(input as never)).toThrow(TypeError);
    expect(() => resolveOptions(input as never)).toThrow(message);
  });

  // Before the schema, a rate limit without `limit` resolved to 0 and every request got 429 with
  // `Retry-After: Infinity`.
  it.each([
    [
      { rateLimit: { perIp: { windowSeconds: 60 } } },
      'createRialtoExchange: `rateLimit.perIp.limit` is required',
    ],
    [
      { rateLimit: { perOrganization: { limit: 10 } } },
      'createRialtoExchange: `rateLimit.perOrganization.windowSeconds` is required',
    ],
    [
      { rateLimit: { perIp: { limit: 0.5, windowSeconds: 60 } } },
      '`rateLimit.perIp.limit` must be a whole number of at least 1',
    ],
    [{ rateLimit: { perIp: 'off' } }, '`rateLimit.perIp` must be false or { limit, windowSeconds }'],
    [{ rateLimit: true }, '`rateLimit` must be false or { perIp, perOrganization, ipv6PrefixLength }'],
    [
      { rateLimit: { ipv6PrefixLength: 0 } },
      '`rateLimit.ipv6PrefixLength` must be a whole number from 1 to 128',
    ],
    [
      { rateLimit: { ipv6PrefixLength: 129 } },
      '`rateLimit.ipv6PrefixLength` must be a whole number from 1 to 128',
    ],
    [
      { rateLimit: { ipv6PrefixLength: 56.5 } },
      '`rateLimit.ipv6PrefixLength` must be a whole number from 1 to 128',
    ],
    [{ webhooks: { worker: { intervalMs: 0 } } }, '`webhooks.worker.intervalMs` must be a positive number'],
    [
      { webhooks: { retryScheduleSeconds: [5, -1] } },
      '`webhooks.retryScheduleSeconds[1]` must be a positive number',
    ],
    [
      { accessTokenKey: [] },
      '`accessTokenKey` must be a PKCS#8 PEM string or a private JWK, or a non-empty array',
    ],
    [{ refreshTokenSecret: ['s'.repeat(32), 'short'] }, '`refreshTokenSecret[1]` must be at least 32 bytes'],
    [{ logger: console.log }, '`logger` must be a pino-compatible logger'],
    [{ allowInsecureIssuers: 'yes' }, '`allowInsecureIssuers` must be true or false'],
    [
      { defaultEmailLinking: 'always' },
      '`defaultEmailLinking` must be one of verified, unless_unverified, never',
    ],
  ])('refuses %j with a TypeError naming the option path', (extra, message) => {
    const input = { store, issuer: 'https://a.example', ...extra };
    expect(() => resolveOptions(input as never)).toThrow(TypeError);
    expect(() => resolveOptions(input as never)).toThrow(message);
  });

  it('never echoes a rejected secret', () => {
    const secret = 'not-long-enough-secret';
    expect(() => resolveOptions({ store, issuer: 'https://a.example', refreshTokenSecret: secret })).toThrow(
      /`refreshTokenSecret` must be at least 32 bytes/,
    );
    expect(() =>
      resolveOptions({ store, issuer: 'https://a.example', refreshTokenSecret: secret }),
    ).not.toThrow(new RegExp(secret));
  });

  it('refuses options that are not an object', () => {
    expect(() => resolveOptions(undefined as never)).toThrow(
      'createRialtoExchange: options must be an object',
    );
  });

  it('resolves rate limits: defaults, false for both, false for one, a full override', () => {
    const resolve = (rateLimit: unknown) =>
      resolveOptions({ store, issuer: 'https://a.example', rateLimit } as never).rateLimit;
    expect(resolve(undefined)).toEqual({
      perIp: { limit: 1200, windowSeconds: 60 },
      perOrganization: { limit: 1200, windowSeconds: 60 },
      ipv6PrefixLength: 64,
    });
    expect(resolve(false)).toEqual({ perIp: false, perOrganization: false, ipv6PrefixLength: 64 });
    expect(resolve({ perIp: false })).toEqual({
      perIp: false,
      perOrganization: { limit: 1200, windowSeconds: 60 },
      ipv6PrefixLength: 64,
    });
    expect(resolve({ ipv6PrefixLength: 48 }).ipv6PrefixLength).toBe(48);
    expect(resolve({ perOrganization: { limit: 2, windowSeconds: 1 } }).perOrganization).toEqual({
      limit: 2,
      windowSeconds: 1,
    });
  });

  it.each([
    [
      'an EC P-256 PEM',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      'ES256',
    ],
    [
      'an Ed25519 PEM',
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
      'EdDSA',
    ],
    [
      'an RSA PEM',
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      'RS256',
    ],
    ['an Ed25519 JWK', generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), 'EdDSA'],
  ])('infers the access-token algorithm from %s', (_, key, algorithm) => {
    expect(
      resolveOptions({ store, issuer: 'https://a.example', accessTokenKey: key as never })
        .accessTokenAlgorithm,
    ).toBe(algorithm);
  });

  it('refuses a key that is not a private key, without echoing it', () => {
    const input = { store, issuer: 'https://a.example', accessTokenKey: 'secret-looking-garbage' };
    expect(() => resolveOptions(input)).toThrow(
      new TypeError('createRialtoExchange: `accessTokenKey` is not a PKCS#8 PEM private key'),
    );
  });

  it('accepts http on loopback for development', () => {
    expect(resolveOptions({ store, issuer: 'http://127.0.0.1:3000' }).issuer).toBe('http://127.0.0.1:3000');
    expect(resolveOptions({ store, issuer: 'http://localhost:3000' }).issuer).toBe('http://localhost:3000');
  });

  it('allows private IdP addresses by default only while the service itself runs on loopback', () => {
    const resolved = (issuer: string, allowPrivateIssuers?: boolean) =>
      resolveOptions({ store, issuer, allowPrivateIssuers }).allowPrivateIssuers;
    expect(resolved('http://localhost:3000')).toBe(true);
    expect(resolved('http://127.0.0.1:3000')).toBe(true);
    expect(resolved('https://api.example.com')).toBe(false);
    expect(resolved('http://localhost:3000', false)).toBe(false);
    expect(resolved('https://api.example.com', true)).toBe(true);
  });
});
