import { describe, expect, it } from 'vitest';
import { assertPublicDestination, DestinationRefusedError, parseDestination } from './destination-policy.js';

// The address classes themselves are pinned in internal/address-policy.test.ts.
const strict = { allowInsecureUrls: false, allowPrivateAddresses: false, allowLoopbackUrls: false };
const relaxed = { allowInsecureUrls: true, allowPrivateAddresses: true, allowLoopbackUrls: false };
const loopbackOnly = { allowInsecureUrls: true, allowPrivateAddresses: false, allowLoopbackUrls: true };

describe('webhook destination policy', () => {
  it.each([
    ['http URLs', 'http://hooks.example.com/x', /https/],
    ['URLs with credentials', 'https://user:pass@hooks.example.com/x', /credentials/],
    ['relative URLs', '/webhooks', /absolute URL/],
    ['overlong URLs', `https://hooks.example.com/${'a'.repeat(2100)}`, /2048/],
    ['loopback literals', 'https://127.0.0.1/x', /public address/],
    ['metadata service literals', 'https://169.254.169.254/latest', /public address/],
    ['IPv6 loopback literals', 'https://[::1]/x', /public address/],
    ['IPv4-mapped IPv6 literals', 'https://[::ffff:10.0.0.1]/x', /public address/],
    ['NAT64 forms of private literals', 'https://[64:ff9b::10.0.0.1]/x', /public address/],
    ['6to4 forms of private literals', 'https://[2002:a00:1::1]/x', /public address/],
    ['site-local literals', 'https://[fec0::1]/x', /public address/],
  ])('refuses %s', (_, url, message) => {
    expect(() => parseDestination(url, strict)).toThrow(DestinationRefusedError);
    expect(() => parseDestination(url, strict)).toThrow(message);
  });

  it('allows http and private addresses only when the host opts in', () => {
    expect(parseDestination('http://127.0.0.1:8080/hook', relaxed).href).toBe('http://127.0.0.1:8080/hook');
    expect(parseDestination('http://10.0.0.1/hook', relaxed).hostname).toBe('10.0.0.1');
    expect(parseDestination('http://[::1]:8080/hook', loopbackOnly).hostname).toBe('[::1]');
    expect(() => parseDestination('http://10.0.0.1/hook', loopbackOnly)).toThrow(/public address/);
    expect(parseDestination('https://hooks.example.com/x', strict).hostname).toBe('hooks.example.com');
  });

  it('refuses a hostname that resolves to loopback', async () => {
    await expect(assertPublicDestination(new URL('https://localhost/x'), strict)).rejects.toThrow(
      /public address/,
    );
    await expect(assertPublicDestination(new URL('https://localhost/x'), relaxed)).resolves.toBeUndefined();
    await expect(
      assertPublicDestination(new URL('https://localhost/x'), loopbackOnly),
    ).resolves.toBeUndefined();
  });

  it('refuses metadata literals whatever the switches say', () => {
    const everything = { ...relaxed, allowLoopbackUrls: true };
    for (const url of [
      'http://169.254.169.254/latest',
      'http://[fd00:ec2::254]/',
      'http://[::ffff:a9fe:a9fe]/',
    ]) {
      expect(() => parseDestination(url, everything)).toThrow(/public address/);
    }
  });

  it('takes a hostname that does not resolve yet only when private addresses are allowed', async () => {
    const url = new URL('https://does-not-exist.invalid/x');
    await expect(assertPublicDestination(url, relaxed)).resolves.toBeUndefined();
    await expect(assertPublicDestination(url, loopbackOnly)).rejects.toThrow(/could not be resolved/);
  });

  it('refuses a hostname that does not resolve', async () => {
    await expect(
      assertPublicDestination(new URL('https://does-not-exist.invalid/x'), strict),
    ).rejects.toThrow(/could not be resolved/);
  });
});
