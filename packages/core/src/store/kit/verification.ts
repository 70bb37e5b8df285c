import type { UserVerification } from '../store.js';

/**
 * Whether two verification states are the same: `updateUserVerification` writes only when the
 * stored user is still in the state the caller read (`expected`).
 */
export function sameVerification(a: UserVerification, b: UserVerification): boolean {
  return (
    a.onboardingCompleted === b.onboardingCompleted &&
    a.kycStatus === b.kycStatus &&
    a.accreditationStatus === b.accreditationStatus
  );
}
