import { RialtoError } from '../errors.js';
import { type AddressPolicy, AddressRefusedError, assertAllowedHost } from '../internal/address-policy.js';

/** The address policy of every fetch from an IdP: loopback only comes with private networks. */
export function issuerAddressPolicy(allowPrivateIssuers: boolean): AddressPolicy {
  return { allowLoopback: allowPrivateIssuers, allowPrivate: allowPrivateIssuers };
}

/**
 * Refuses an issuer whose host is, or resolves to, an address the policy does not allow, so a
 * registration cannot point this service at its own network or a cloud-metadata service. A name
 * that does not resolve yet is accepted: nothing can be fetched through it now, and every later
 * fetch checks the address it connects to, which is the real guard (DNS may change after this).
 * @throws RialtoError `invalid_request`
 */
export async function assertIssuerAddress(issuer: URL, policy: AddressPolicy): Promise<void> {
  try {
    await assertAllowedHost(issuer, policy);
  } catch (error) {
    if (!(error instanceof AddressRefusedError)) throw error;
    if (error.addressClass === 'unresolved') return;
    const never = ['link-local', 'metadata', 'reserved'].includes(error.addressClass);
    throw new RialtoError(
      'invalid_request',
      never || policy.allowPrivate
        ? `The issuer must not point to a ${error.addressClass} address.`
        : `The issuer must resolve to public addresses, not a ${error.addressClass} one (allowPrivateIssuers is off).`,
    );
  }
}
