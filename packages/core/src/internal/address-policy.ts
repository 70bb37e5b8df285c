import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/**
 * What an IP address reaches, as far as a server-side fetch is concerned:
 * - `global`: a global unicast address on the public internet;
 * - `loopback`: this host (127.0.0.0/8, ::1);
 * - `private`: a private network (RFC 1918, shared address space, IPv6 unique-local and site-local,
 *   NAT64 local-use);
 * - `link-local` and `metadata`: the link and the cloud platform's instance services (credentials
 *   live there), never reachable whatever the policy says;
 * - `reserved`: anything else that is not global unicast (unspecified, multicast, documentation,
 *   benchmarking, deprecated transition forms, unallocated space).
 */
export type AddressClass = 'global' | 'loopback' | 'private' | 'reserved' | 'link-local' | 'metadata';

/** Which non-global addresses a fetch may reach. `global` always may; link-local, metadata and reserved never do. */
export interface AddressPolicy {
  /** Loopback addresses. */
  allowLoopback: boolean;
  /** Private networks, and loopback with them. */
  allowPrivate: boolean;
}

export class AddressRefusedError extends Error {
  override readonly name = 'AddressRefusedError';
  /** The class of the refused address, or `unresolved` when the name did not resolve. */
  readonly addressClass: AddressClass | 'unresolved';

  constructor(message: string, addressClass: AddressClass | 'unresolved', options?: ErrorOptions) {
    super(message, options);
    this.addressClass = addressClass;
  }
}

// Most restrictive last: an address carrying another (6to4, NAT64, mapped) takes the worse class.
const SEVERITY: readonly AddressClass[] = [
  'global',
  'loopback',
  'private',
  'reserved',
  'link-local',
  'metadata',
];

function worse(a: AddressClass, b: AddressClass): AddressClass {
  return SEVERITY.indexOf(a) >= SEVERITY.indexOf(b) ? a : b;
}

// IPv4 special-purpose blocks (IANA registry), the most specific first. Whatever is not listed in
// 0.0.0.0/0 is global unicast.
const IPV4_BLOCKS: ReadonlyArray<readonly [string, number, AddressClass]> = [
  ['100.100.100.200', 32, 'metadata'], // Alibaba Cloud instance metadata (inside the shared space)
  ['168.63.129.16', 32, 'metadata'], // Azure platform endpoint (WireServer), a public-looking address
  ['169.254.0.0', 16, 'link-local'], // holds 169.254.169.254, the metadata service of AWS, GCP, Azure, OCI
  ['0.0.0.0', 8, 'reserved'], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['127.0.0.0', 8, 'loopback'],
  ['10.0.0.0', 8, 'private'],
  ['172.16.0.0', 12, 'private'],
  ['192.168.0.0', 16, 'private'],
  ['100.64.0.0', 10, 'private'], // carrier-grade NAT shared space, also used by overlay VPNs
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'reserved'], // documentation
  ['198.51.100.0', 24, 'reserved'], // documentation
  ['203.0.113.0', 24, 'reserved'], // documentation
  ['192.88.99.0', 24, 'reserved'], // 6to4 relay anycast, deprecated
  ['198.18.0.0', 15, 'reserved'], // benchmarking
  ['224.0.0.0', 4, 'reserved'], // multicast
  ['240.0.0.0', 4, 'reserved'], // future use and broadcast
];

const IPV4_BLOCK_BITS = IPV4_BLOCKS.map(([network, prefix, kind]) => ({
  network: ipv4Number(network),
  mask: prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0,
  kind,
}));

function ipv4Number(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function classifyIpv4Number(value: number): AddressClass {
  for (const { network, mask, kind } of IPV4_BLOCK_BITS) {
    if ((value & mask) >>> 0 === network) return kind;
  }
  return 'global';
}

/** The eight 16-bit groups of a valid IPv6 address (without zone). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const groups =
    rest === undefined
      ? headGroups
      : [
          ...headGroups,
          ...Array<string>(8 - headGroups.length - (rest ? rest.split(':').length : 0)).fill('0'),
          ...(rest ? rest.split(':') : []),
        ];
  return groups.map((group) => Number.parseInt(group, 16));
}

function ipv4FromGroups(high: number, low: number): number {
  return high * 0x10000 + low;
}

function classifyIpv6(address: string): AddressClass {
  const g = ipv6Groups(address) as [number, number, number, number, number, number, number, number];
  const zeroBetween = (start: number, end: number) => g.slice(start, end).every((group) => group === 0);
  const zeroUpTo = (end: number) => zeroBetween(0, end);
  const lastIpv4 = classifyIpv4Number(ipv4FromGroups(g[6], g[7]));

  if (zeroUpTo(8)) return 'reserved'; // unspecified
  if (zeroUpTo(7) && g[7] === 1) return 'loopback';
  if (zeroUpTo(5) && g[5] === 0xffff) return lastIpv4; // IPv4-mapped: the socket talks IPv4
  if (zeroUpTo(6)) return worse('reserved', lastIpv4); // IPv4-compatible, deprecated
  if (zeroUpTo(4) && g[4] === 0xffff && g[5] === 0) return worse('reserved', lastIpv4); // SIIT
  if (g[0] === 0x64 && g[1] === 0xff9b && zeroBetween(2, 6)) {
    return lastIpv4; // NAT64 well-known prefix (RFC 6052): reaches the embedded IPv4 address
  }
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) {
    // NAT64 local-use (RFC 8215). The operator picks the prefix length (/48, /56, /64 or /96), and
    // with it where the IPv4 address sits (RFC 6052 §2.2, skipping the u-octet, byte 8); any layout
    // may be meant, so only the never-reachable classes of what it may carry count.
    const bytes = g.flatMap((group) => [group >> 8, group & 0xff]);
    const at = (...indexes: number[]) =>
      indexes.reduce((value, index) => value * 256 + (bytes[index] ?? 0), 0);
    const carried = [at(6, 7, 9, 10), at(7, 9, 10, 11), at(9, 10, 11, 12), at(12, 13, 14, 15)]
      .map(classifyIpv4Number)
      .filter((kind) => kind === 'link-local' || kind === 'metadata');
    return carried.reduce(worse, 'private');
  }
  if (g[0] === 0x2002) return classifyIpv4Number(ipv4FromGroups(g[1], g[2])); // 6to4
  if (g[0] === 0x2001 && g[1] < 0x200) return 'reserved'; // IETF protocol assignments, Teredo among them
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'reserved'; // documentation
  if (g[0] === 0x3fff && g[1] < 0x1000) return 'reserved'; // documentation (RFC 9637)
  if ((g[0] & 0xe000) === 0x2000) return 'global'; // 2000::/3, the global unicast allocation
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && zeroBetween(2, 7) && g[7] === 0x254) {
    return 'metadata'; // AWS instance metadata over IPv6
  }
  if ((g[0] & 0xfe00) === 0xfc00) return 'private'; // unique local
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'private'; // site-local, deprecated
  return 'reserved';
}

/**
 * Classifies an IP address by an allow-list: only what falls in global unicast space is `global`.
 * IPv6 forms that carry an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4) are judged by the
 * address they carry too. Anything that is not an IP address (or has a zone index) is `reserved`.
 */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 4) return classifyIpv4Number(ipv4Number(address));
  if (family === 6 && !address.includes('%')) return classifyIpv6(address.toLowerCase());
  return 'reserved';
}

export function isAllowedAddress(address: string, policy: AddressPolicy): boolean {
  switch (classifyAddress(address)) {
    case 'global':
      return true;
    case 'loopback':
      return policy.allowLoopback || policy.allowPrivate;
    case 'private':
      return policy.allowPrivate;
    default:
      return false;
  }
}

/** The host of a URL as an IP literal (brackets removed), or `undefined` for a DNS name. */
export function ipLiteralHost(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? host : undefined;
}

// getaddrinfo has no deadline of its own; a resolver that stalls must not hold a request open.
const DEFAULT_RESOLVE_TIMEOUT_MS = 5000;

/**
 * Resolves a URL's host and refuses it unless every address it resolves to is allowed. A name that
 * does not resolve within `resolveTimeoutMs` counts as unresolved.
 * @throws AddressRefusedError
 */
export async function assertAllowedHost(
  url: URL,
  policy: AddressPolicy,
  resolveTimeoutMs = DEFAULT_RESOLVE_TIMEOUT_MS,
): Promise<void> {
  const literal = ipLiteralHost(url);
  const addresses = literal
    ? [literal]
    : (
        await new Promise<LookupAddress[]>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('timed out')), resolveTimeoutMs);
          dnsLookup(url.hostname, { all: true }, (error, found) => {
            clearTimeout(timer);
            if (error) reject(error);
            else resolve(found);
          });
        }).catch((error: unknown) => {
          throw new AddressRefusedError(`${url.hostname} could not be resolved`, 'unresolved', {
            cause: error,
          });
        })
      ).map(({ address }) => address);
  if (addresses.length === 0) throw new AddressRefusedError(`${url.hostname} has no address`, 'unresolved');
  const refused = addresses.find((address) => !isAllowedAddress(address, policy));
  if (refused !== undefined) {
    const kind = classifyAddress(refused);
    throw new AddressRefusedError(`${url.hostname} resolves to a ${kind} address`, kind);
  }
}

/**
 * A `lookup` for `http.request` that keeps only allowed addresses at connect time, so a host whose
 * DNS answer changed since it was checked (DNS rebinding) still cannot reach internal services.
 * IP literals never go through `lookup`: check them with `ipLiteralHost` before connecting.
 */
export function allowedAddressLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const allowed = addresses.filter(({ address }) => isAllowedAddress(address, policy));
      const chosen = allowed[0];
      if (!chosen) {
        const kind = addresses[0] ? classifyAddress(addresses[0].address) : 'unresolved';
        return callback(new AddressRefusedError(`${hostname} resolves to a ${kind} address`, kind), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      callback(null, chosen.address, chosen.family);
    });
  };
}
