import type { LookupFunction } from 'node:net';
import {
  type AddressPolicy,
  AddressRefusedError,
  allowedAddressLookup,
  assertAllowedHost,
  ipLiteralHost,
  isAllowedAddress,
} from '../internal/address-policy.js';

/**
 * Where webhook deliveries may go. The relaxations exist for local development and tests; none of
 * them opens link-local or cloud-metadata addresses.
 */
export interface DestinationPolicy {
  /** Allow `http:` URLs. @default false */
  allowInsecureUrls: boolean;
  /** Allow private networks and loopback. @default false */
  allowPrivateAddresses: boolean;
  /** Allow loopback (a receiver on the developer's machine), not private networks. @default false */
  allowLoopbackUrls: boolean;
}

export class DestinationRefusedError extends Error {
  override readonly name = 'DestinationRefusedError';
}

const MAX_URL_LENGTH = 2048;
const NOT_ALLOWED = 'The URL must point to a public address.';

function addressPolicy(policy: DestinationPolicy): AddressPolicy {
  return { allowLoopback: policy.allowLoopbackUrls, allowPrivate: policy.allowPrivateAddresses };
}

/**
 * Checks a subscriber URL's form: absolute, `https:` (unless allowed), no credentials, and a
 * literal IP host must be allowed by the address policy. Hostnames are checked when resolved.
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
  const literal = ipLiteralHost(url);
  if (literal !== undefined && !isAllowedAddress(literal, addressPolicy(policy))) {
    throw new DestinationRefusedError(NOT_ALLOWED);
  }
  return url;
}

/**
 * Resolves a destination's host and refuses it when any address is not allowed.
 * @throws DestinationRefusedError
 */
export async function assertPublicDestination(url: URL, policy: DestinationPolicy): Promise<void> {
  try {
    await assertAllowedHost(url, addressPolicy(policy));
  } catch (error) {
    if (!(error instanceof AddressRefusedError)) throw error;
    // As before the metadata rule existed, a relaxed policy takes a name that does not resolve
    // yet; the connect-time check still refuses whatever it resolves to later.
    if (error.addressClass === 'unresolved' && policy.allowPrivateAddresses) return;
    throw new DestinationRefusedError(
      error.addressClass === 'unresolved' ? `The host ${url.hostname} could not be resolved.` : NOT_ALLOWED,
    );
  }
}

/**
 * A `lookup` for `http.request` that refuses disallowed addresses at connect time, so a host
 * whose DNS answer changes after validation (DNS rebinding) still cannot reach internal services.
 */
export function publicOnlyLookup(policy: DestinationPolicy): LookupFunction {
  return allowedAddressLookup(addressPolicy(policy));
}
