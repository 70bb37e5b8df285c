import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AddressClass,
  type AddressPolicy,
  assertAllowedHost,
  classifyAddress,
  isAllowedAddress,
} from './address-policy.js';

const POLICIES: AddressPolicy[] = [
  { allowLoopback: false, allowPrivate: false },
  { allowLoopback: true, allowPrivate: false },
  { allowLoopback: false, allowPrivate: true },
  { allowLoopback: true, allowPrivate: true },
];

describe('classifyAddress', () => {
  it.each<[string, AddressClass]>([
    ['8.8.8.8', 'global'],
    ['93.184.216.34', 'global'],
    ['172.32.0.1', 'global'],
    ['2606:4700::1111', 'global'],
    ['2a00:1450:4001:80b::200e', 'global'],
    ['::ffff:8.8.8.8', 'global'],
    ['64:ff9b::8.8.8.8', 'global'],
    ['2002:808:808::1', 'global'], // 6to4 of 8.8.8.8
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd00::1', 'private'],
    ['fc12:3456::1', 'private'],
    ['fec0::1', 'private'], // site-local, which ipaddr.js calls unicast
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:a00:1::1', 'private'], // 6to4 of 10.0.0.1
    ['2002:c0a8:101::', 'private'], // 6to4 of 192.168.1.1
    ['64:ff9b:1::8.8.8.8', 'private'], // NAT64 local-use, whatever it carries
    ['64:ff9b:1::10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['64:ff9b::169.254.169.254', 'link-local'],
    ['64:ff9b:1::a9fe:a9fe', 'link-local'],
    ['64:ff9b:1:a9fe:a9:fe00::', 'link-local'], // the /48 layout of RFC 6052 §2.2
    ['64:ff9b:1:a9:fe:a9fe::', 'link-local'], // the /56 layout
    ['64:ff9b:1:0:a9:fea9:fe00::', 'link-local'], // the /64 layout
    ['2002:a9fe:a9fe::', 'link-local'], // 6to4 of the metadata address
    ['::169.254.169.254', 'link-local'], // IPv4-compatible
    ['::ffff:0:169.254.169.254', 'link-local'], // SIIT
    ['fd00:ec2::254', 'metadata'],
    ['FD00:EC2:0:0:0:0:0:254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['::ffff:100.100.100.200', 'metadata'],
    ['0.0.0.0', 'reserved'],
    ['0.1.2.3', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['224.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['::', 'reserved'],
    ['::8.8.8.8', 'reserved'], // IPv4-compatible: deprecated, which ipaddr.js calls unicast
    ['::ffff:0:8.8.8.8', 'reserved'], // SIIT
    ['::10.0.0.1', 'reserved'],
    ['2001::1', 'reserved'], // Teredo
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['100::1', 'reserved'],
    ['ff02::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['fe80::1%eth0', 'reserved'],
    ['not-an-ip', 'reserved'],
    ['localhost', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });
});

describe('isAllowedAddress', () => {
  it('allows loopback with either switch, private networks only with allowPrivate', () => {
    const allowed = (address: string) => POLICIES.map((policy) => isAllowedAddress(address, policy));
    expect(allowed('8.8.8.8')).toEqual([true, true, true, true]);
    expect(allowed('127.0.0.1')).toEqual([false, true, true, true]);
    expect(allowed('10.0.0.1')).toEqual([false, false, true, true]);
    expect(allowed('fd00::1')).toEqual([false, false, true, true]);
  });
});

// Arbitraries for the property tests.
const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((parts) => parts.join('.'));
const linkLocalIpv4 = fc.tuple(octet, octet).map(([c, d]) => `169.254.${c}.${d}`);
const group = fc.integer({ min: 0, max: 0xffff });
const ipv6Groups = fc.array(group, { minLength: 8, maxLength: 8 });

function hexPair(address: string): [string, string] {
  const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}

/** Every IPv6 spelling this service may meet of one IPv4 address, with the class it must at least get. */
function embeddings(address: string): Array<[string, 'same' | 'at-least-reserved' | 'at-least-private']> {
  const [high, low] = hexPair(address);
  return [
    [`::ffff:${address}`, 'same'],
    [`::ffff:${high}:${low}`, 'same'],
    [`64:ff9b::${address}`, 'same'],
    [`2002:${high}:${low}::1`, 'same'],
    [`::${address}`, 'at-least-reserved'],
    [`::ffff:0:${address}`, 'at-least-reserved'],
    [`64:ff9b:1::${address}`, 'at-least-private'],
  ];
}

const NEVER: readonly AddressClass[] = ['reserved', 'link-local', 'metadata'];

describe('address policy properties', () => {
  it('judges every IPv6 form of an IPv4 address at least as strictly as the address itself', () => {
    fc.assert(
      fc.property(ipv4, (address) => {
        const own = classifyAddress(address);
        for (const [form, rule] of embeddings(address)) {
          const kind = classifyAddress(form);
          if (rule === 'same') expect([form, kind]).toEqual([form, own]);
          if (rule === 'at-least-reserved') expect(NEVER).toContain(kind);
          if (rule === 'at-least-private') expect(['private', ...NEVER]).toContain(kind);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never allows a link-local address or any form of one, whatever the switches say', () => {
    fc.assert(
      fc.property(linkLocalIpv4, fc.constantFrom(...POLICIES), (address, policy) => {
        for (const form of [address, ...embeddings(address).map(([spelling]) => spelling)]) {
          expect([form, isAllowedAddress(form, policy)]).toEqual([form, false]);
        }
      }),
    );
  });

  it('calls an IPv6 address global only inside 2000::/3 or when it carries a global IPv4 address', () => {
    fc.assert(
      fc.property(ipv6Groups, (groups) => {
        const address = groups.map((g) => g.toString(16)).join(':');
        if (classifyAddress(address) !== 'global') return;
        const [first = 0] = groups;
        const inGlobalUnicast = (first & 0xe000) === 0x2000;
        const carriesIpv4 =
          groups.slice(0, 5).every((g) => g === 0) ||
          (first === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0));
        expect(inGlobalUnicast || carriesIpv4).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('classifies an IPv6 address the same in full and in compressed spelling', () => {
    fc.assert(
      fc.property(ipv6Groups, (groups) => {
        const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
        const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        expect(classifyAddress(compressed)).toBe(classifyAddress(full));
      }),
      { numRuns: 5000 },
    );
  });

  it('lets no switch open reserved, link-local or metadata space, and allowLoopback no private network', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          ipv4,
          ipv6Groups.map((g) => g.map((x) => x.toString(16)).join(':')),
        ),
        (address) => {
          const kind = classifyAddress(address);
          if (NEVER.includes(kind)) {
            for (const policy of POLICIES) expect(isAllowedAddress(address, policy)).toBe(false);
          }
          if (kind === 'private') {
            expect(isAllowedAddress(address, { allowLoopback: true, allowPrivate: false })).toBe(false);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('assertAllowedHost', () => {
  const strict = { allowLoopback: false, allowPrivate: false };
  it('refuses a hostname that resolves to loopback unless loopback is allowed', async () => {
    await expect(assertAllowedHost(new URL('https://localhost/x'), strict)).rejects.toThrow(
      /localhost resolves to a loopback address/,
    );
    await expect(
      assertAllowedHost(new URL('https://localhost/x'), { allowLoopback: true, allowPrivate: false }),
    ).resolves.toBeUndefined();
  });

  it('checks IP literals without DNS, metadata even when private addresses are allowed', async () => {
    await expect(
      assertAllowedHost(new URL('http://169.254.169.254/latest'), {
        allowLoopback: true,
        allowPrivate: true,
      }),
    ).rejects.toThrow(/link-local/);
    await expect(
      assertAllowedHost(new URL('https://[fd00:ec2::254]/'), POLICIES[3] as AddressPolicy),
    ).rejects.toThrow(/metadata/);
    await expect(assertAllowedHost(new URL('https://8.8.8.8/'), strict)).resolves.toBeUndefined();
  });

  it('refuses a hostname that does not resolve', async () => {
    await expect(assertAllowedHost(new URL('https://does-not-exist.invalid/x'), strict)).rejects.toThrow(
      /could not be resolved/,
    );
  });
});
