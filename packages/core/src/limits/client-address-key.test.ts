import { describe, expect, it } from 'vitest';
import { clientAddressKey } from './client-address-key.js';

describe('clientAddressKey', () => {
  it('keys an IPv4 address as itself', () => {
    expect(clientAddressKey('192.0.2.7', 64)).toBe('192.0.2.7');
  });

  it('keys every address of one IPv6 /64 alike, and addresses of the next /64 apart', () => {
    const a = clientAddressKey('2001:db8:1:2::1', 64);
    expect(a).toBe('2001:db8:1:2:0:0:0:0/64');
    expect(clientAddressKey('2001:db8:1:2:ffff:abcd:1234:5678', 64)).toBe(a);
    expect(clientAddressKey('2001:0DB8:0001:0002:0000:0000:0000:0099', 64)).toBe(a);
    expect(clientAddressKey('2001:db8:1:3::1', 64)).not.toBe(a);
  });

  it('honours the configured prefix length, including lengths inside a group', () => {
    expect(clientAddressKey('2001:db8:1:2::1', 48)).toBe('2001:db8:1:0:0:0:0:0/48');
    expect(clientAddressKey('2001:db8:1:2ff::1', 56)).toBe('2001:db8:1:200:0:0:0:0/56');
    expect(clientAddressKey('2001:db8::1', 128)).toBe('2001:db8:0:0:0:0:0:1/128');
    expect(clientAddressKey('2001:db8::1', 128)).not.toBe(clientAddressKey('2001:db8::2', 128));
  });

  it('keys an IPv4-mapped IPv6 address as its IPv4 address, in either notation', () => {
    expect(clientAddressKey('::ffff:192.0.2.7', 64)).toBe('192.0.2.7');
    expect(clientAddressKey('::ffff:c000:207', 64)).toBe('192.0.2.7');
    expect(clientAddressKey('::FFFF:192.0.2.7', 64)).toBe('192.0.2.7');
  });

  it('does not treat other addresses ending in an IPv4 tail as IPv4', () => {
    expect(clientAddressKey('64:ff9b::192.0.2.7', 64)).toBe('64:ff9b:0:0:0:0:0:0/64');
  });

  it('ignores a zone index and keeps a non-address verbatim', () => {
    expect(clientAddressKey('fe80::1%eth0', 64)).toBe('fe80:0:0:0:0:0:0:0/64');
    expect(clientAddressKey('unknown', 64)).toBe('unknown');
  });
});
