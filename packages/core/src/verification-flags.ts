import type { UserVerification } from './store.js';

/** The boolean claims of access tokens and user JSON, derived from the statuses. */
export interface VerificationFlags {
  onboardingCompleted: boolean;
  kycCompleted: boolean;
  accredited: boolean;
  accreditationVerified: boolean;
}

/**
 * The flags of the design's user JSON and access tokens, derived so they can never disagree with
 * the statuses: `kycCompleted` = approved, `accredited` = submitted or verified,
 * `accreditationVerified` = verified.
 * @example
 * verificationFlags(user).kycCompleted // true once kycStatus is 'approved'
 */
export function verificationFlags(user: UserVerification): VerificationFlags {
  return {
    onboardingCompleted: user.onboardingCompleted,
    kycCompleted: user.kycStatus === 'approved',
    accredited: user.accreditationStatus === 'submitted' || user.accreditationStatus === 'verified',
    accreditationVerified: user.accreditationStatus === 'verified',
  };
}
