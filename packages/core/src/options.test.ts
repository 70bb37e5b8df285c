import { describe, expect, it } from 'vitest';
import { resolveOptions } from './options.js';
import type { Store } from './store.js';

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
      clockToleranceSeconds: 30,
      fetchTimeoutMs: 5000,
      maxRemoteDocumentBytes: 524288,
      discoveryCacheTtlSeconds: 600,
      unknownKidCooldownSeconds: 30,
      maxBodyBytes: 65536,
      defaultEmailLinking: 'unless_unverified',
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
      { store, issuer: 'https://a.example', accessTokenAlgorithm: 'HS256' },
      /must be one of RS256, PS256, ES256, EdDSA/,
    ],
  ])('throws a TypeError naming the option for %j', (input, message) => {
    expect(() => resolveOptions(input as never)).toThrow(TypeError);
    expect(() => resolveOptions(input as never)).toThrow(message);
  });

  it('accepts http on loopback for development', () => {
    expect(resolveOptions({ store, issuer: 'http://127.0.0.1:3000' }).issuer).toBe('http://127.0.0.1:3000');
    expect(resolveOptions({ store, issuer: 'http://localhost:3000' }).issuer).toBe('http://localhost:3000');
  });
});
