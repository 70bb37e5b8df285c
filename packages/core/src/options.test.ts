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
      accessTokenAlgorithm: 'RS256',
      allowInsecureIssuers: false,
      allowPrivateIssuers: false,
      fetch: undefined,
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
    [{ store, issuer: 'https://a.example', fetchTimeoutMs: Number.NaN }, /`fetchTimeoutMs`/],
    [{ store, issuer: 'https://a.example', refreshTokenSecret: 'short' }, /at least 32 bytes/],
    [{ store, issuer: 'https://a.example', adminToken: 'short' }, /at least 16 characters/],
    [
      { store, issuer: 'https://a.example', allowPrivateIssuers: 'yes' },
      /`allowPrivateIssuers` must be a boolean/,
    ],
    [{ store, issuer: 'https://a.example', fetch: 'https://proxy' }, /`fetch` must be a function/],
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
