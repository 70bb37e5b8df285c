import type { AccreditationStatus, KycStatus, UserVerification } from '../store/store.js';

// Here rather than in users.ts, which imports the wire format: the response schemas need them at load time.
export const KYC_STATUSES = [
  'not_started',
  'session_created',
  'pii_submitted',
  'processing',
  'resubmission_requested',
  'approved',
  'denied',
] as const satisfies readonly KycStatus[];

export const ACCREDITATION_STATUSES = [
  'not_submitted',
  'submitted',
  'verified',
  'rejected',
] as const satisfies readonly AccreditationStatus[];

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
