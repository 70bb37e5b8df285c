import { describe, expect, it } from 'vitest';
import {
  assertPublicDestination,
  DestinationRefusedError,
  isNonPublicAddress,
  parseDestination,
} from './destination-policy.js';

const strict = { allowInsecureUrls: false, allowPrivateAddresses: false };
const relaxed = { allowInsecureUrls: true, allowPrivateAddresses: true };

describe('webhook destination policy', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::10.0.0.1',
    '::ffff:a9fe:a9fe',
    'not-an-ip',
  ])('treats %s as non-public', (address) => {
    expect(isNonPublicAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])(
    'treats %s as public',
    (address) => {
      expect(isNonPublicAddress(address)).toBe(false);
    },
  );

  it.each([
    ['http URLs', 'http://hooks.example.com/x', /https/],
    ['URLs with credentials', 'https://user:pass@hooks.example.com/x', /credentials/],
    ['relative URLs', '/webhooks', /absolute URL/],
    ['overlong URLs', `https://hooks.example.com/${'a'.repeat(2100)}`, /2048/],
    ['loopback literals', 'https://127.0.0.1/x', /public address/],
    ['metadata service literals', 'https://169.254.169.254/latest', /public address/],
    ['IPv6 loopback literals', 'https://[::1]/x', /public address/],
    ['IPv4-mapped IPv6 literals', 'https://[::ffff:10.0.0.1]/x', /public address/],
  ])('refuses %s', (_, url, message) => {
    expect(() => parseDestination(url, strict)).toThrow(DestinationRefusedError);
    expect(() => parseDestination(url, strict)).toThrow(message);
  });

  it('allows http and private addresses only when the host opts in', () => {
    expect(parseDestination('http://127.0.0.1:8080/hook', relaxed).href).toBe('http://127.0.0.1:8080/hook');
    expect(parseDestination('https://hooks.example.com/x', strict).hostname).toBe('hooks.example.com');
  });

  it('refuses a hostname that resolves to loopback', async () => {
    await expect(assertPublicDestination(new URL('https://localhost/x'), strict)).rejects.toThrow(
      /public address/,
    );
    await expect(assertPublicDestination(new URL('https://localhost/x'), relaxed)).resolves.toBeUndefined();
  });

  it('refuses a hostname that does not resolve', async () => {
    await expect(
      assertPublicDestination(new URL('https://does-not-exist.invalid/x'), strict),
    ).rejects.toThrow(/could not be resolved/);
  });
});
