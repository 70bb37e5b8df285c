import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Where webhook deliveries may go. Both relaxations exist for local development and tests. */
export interface DestinationPolicy {
  /** Allow `http:` URLs. @default false */
  allowInsecureUrls: boolean;
  /** Allow loopback, private, link-local and other non-public addresses. @default false */
  allowPrivateAddresses: boolean;
}

export class DestinationRefusedError extends Error {
  override readonly name = 'DestinationRefusedError';
}

const MAX_URL_LENGTH = 2048;

// Addresses that are not on the public internet: an SSRF-safe sender never connects to them.
const nonPublic = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  nonPublic.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  nonPublic.addSubnet(network, prefix, 'ipv6');
}

/** Whether an IP address is loopback, private, link-local, reserved or otherwise not public. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return nonPublic.check(address, 'ipv4');
  if (family !== 6) return true;
  const embedded = embeddedIpv4(address.toLowerCase());
  if (embedded) return nonPublic.check(embedded, 'ipv4');
  return nonPublic.check(address, 'ipv6');
}

// IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses reach IPv4 hosts.
function embeddedIpv4(address: string): string | undefined {
  const dotted = /^(?:::ffff:|64:ff9b::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (!hex) return undefined;
  const [high, low] = [Number.parseInt(hex[1] as string, 16), Number.parseInt(hex[2] as string, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/**
 * Checks a subscriber URL's form: absolute, `https:` (unless allowed), no credentials, and a
 * literal IP host must be public (unless allowed). Hostnames are checked when resolved.
 * @throws DestinationRefusedError
 */
export function parseDestination(raw: string, policy: DestinationPolicy): URL {
  if (raw.length > MAX_URL_LENGTH || !URL.canParse(raw)) {
    throw new DestinationRefusedError('The URL must be an absolute URL of at most 2048 characters.');
  }
  const url = new URL(raw);
  if (url.protocol !== 'https:' && !(policy.allowInsecureUrls && url.protocol === 'http:')) {
    throw new DestinationRefusedError('The URL must use https.');
  }
  if (url.username || url.password)
    throw new DestinationRefusedError('The URL must not contain credentials.');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!policy.allowPrivateAddresses && isIP(host) && isNonPublicAddress(host)) {
    throw new DestinationRefusedError('The URL must point to a public address.');
  }
  return url;
}

/**
 * Resolves a destination's host and refuses it when any address is not public.
 * @throws DestinationRefusedError
 */
export async function assertPublicDestination(url: URL, policy: DestinationPolicy): Promise<void> {
  if (policy.allowPrivateAddresses) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [{ address: host }]
    : await new Promise<LookupAddress[]>((resolve, reject) =>
        dnsLookup(host, { all: true }, (error, found) => (error ? reject(error) : resolve(found))),
      ).catch(() => {
        throw new DestinationRefusedError(`The host ${host} could not be resolved.`);
      });
  if (addresses.length === 0 || addresses.some(({ address }) => isNonPublicAddress(address))) {
    throw new DestinationRefusedError('The URL must point to a public address.');
  }
}

/**
 * A `lookup` for `http.request` that refuses non-public addresses at connect time, so a host
 * whose DNS answer changes after validation (DNS rebinding) still cannot reach internal services.
 */
export function publicOnlyLookup(policy: DestinationPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const allowed = addresses.filter(
        ({ address }) => policy.allowPrivateAddresses || !isNonPublicAddress(address),
      );
      const chosen = allowed[0];
      if (!chosen)
        return callback(new DestinationRefusedError(`${hostname} resolves to a non-public address`), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      callback(null, chosen.address, chosen.family);
    });
  };
}
