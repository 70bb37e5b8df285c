import { RialtoError } from '../errors.js';
import type { EmailLinkingPolicy, ProvisioningMode } from '../store/store.js';

/**
 * `link_only` signs in only users created beforehand and claimed by email: the users of an issuer
 * that never links by email could never sign in. Checked when an org is registered, when its
 * provisioning changes and when an issuer is added to it.
 * @throws RialtoError `invalid_request` when the org is `link_only` and any issuer links `never`
 */
export function checkProvisioning(
  provisioning: ProvisioningMode,
  registrations: readonly { emailLinking: EmailLinkingPolicy }[],
): void {
  if (
    provisioning === 'link_only' &&
    registrations.some((registration) => registration.emailLinking === 'never')
  ) {
    throw new RialtoError(
      'invalid_request',
      'provisioning: "link_only" signs in only users claimed by email, so every issuer of the org needs email_linking "verified" or "unless_unverified"; the users of an issuer with "never" could never sign in.',
    );
  }
}
