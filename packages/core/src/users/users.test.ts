import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import type { UserVerification } from '../store/store.js';
import {
  INITIAL_VERIFICATION,
  resolveVerificationPatch,
  type UserVerificationPatch,
  verificationEventTypes,
} from './users.js';

const state = (overrides: Partial<UserVerification> = {}): UserVerification => ({
  ...INITIAL_VERIFICATION,
  ...overrides,
});

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof RialtoError ? error.code : 'not a RialtoError';
  }
}

describe('resolveVerificationPatch', () => {
  it.each<[string, UserVerification, UserVerificationPatch, Partial<UserVerification>]>([
    [
      'kyc_completed: true approves from any open state',
      state({ kycStatus: 'pii_submitted' }),
      { kycCompleted: true },
      { kycStatus: 'approved' },
    ],
    [
      'kyc_completed: false keeps an unapproved status',
      state({ kycStatus: 'denied' }),
      { kycCompleted: false },
      { kycStatus: 'denied' },
    ],
    ['accredited: true submits', state(), { accredited: true }, { accreditationStatus: 'submitted' }],
    [
      'accredited: true keeps verified',
      state({ accreditationStatus: 'verified' }),
      { accredited: true },
      { accreditationStatus: 'verified' },
    ],
    [
      'accredited: true resubmits a rejection',
      state({ accreditationStatus: 'rejected' }),
      { accredited: true },
      { accreditationStatus: 'submitted' },
    ],
    [
      'accredited: false rejects a submission',
      state({ accreditationStatus: 'submitted' }),
      { accredited: false },
      { accreditationStatus: 'rejected' },
    ],
    [
      'accreditation_verified: true verifies',
      state(),
      { accreditationVerified: true },
      { accreditationStatus: 'verified' },
    ],
    [
      'a status and an agreeing flag',
      state(),
      { kycStatus: 'approved', kycCompleted: true },
      { kycStatus: 'approved' },
    ],
    [
      'denied may start a new session',
      state({ kycStatus: 'denied' }),
      { kycStatus: 'session_created' },
      { kycStatus: 'session_created' },
    ],
  ])('%s', (_, current, patch, expected) => {
    expect(resolveVerificationPatch(current, patch)).toEqual({ ...current, ...expected });
  });

  it.each<[string, UserVerification, UserVerificationPatch, string]>([
    [
      'leaving approved',
      state({ kycStatus: 'approved' }),
      { kycStatus: 'pii_submitted' },
      'invalid_transition',
    ],
    [
      'kyc_completed: false when approved',
      state({ kycStatus: 'approved' }),
      { kycCompleted: false },
      'invalid_transition',
    ],
    [
      'going back from processing',
      state({ kycStatus: 'processing' }),
      { kycStatus: 'session_created' },
      'invalid_transition',
    ],
    [
      'approving a denied session without a new one',
      state({ kycStatus: 'denied' }),
      { kycStatus: 'approved' },
      'invalid_transition',
    ],
    [
      'leaving verified',
      state({ accreditationStatus: 'verified' }),
      { accredited: false },
      'invalid_transition',
    ],
    [
      'unverifying',
      state({ accreditationStatus: 'verified' }),
      { accreditationVerified: false },
      'invalid_transition',
    ],
    ['a contradicting KYC flag', state(), { kycStatus: 'denied', kycCompleted: true }, 'invalid_request'],
    [
      'a contradicting accreditation flag',
      state(),
      { accreditationStatus: 'submitted', accreditationVerified: true },
      'invalid_request',
    ],
  ])('refuses %s', (_, current, patch, code) => {
    expect(codeOf(() => resolveVerificationPatch(current, patch))).toBe(code);
  });
});

describe('verificationEventTypes', () => {
  it('emits one event per changed status and onboarding completion only when it becomes true', () => {
    expect(
      verificationEventTypes(state(), {
        onboardingCompleted: true,
        kycStatus: 'processing',
        accreditationStatus: 'rejected',
      }),
    ).toEqual(['kyc.session.processing', 'accreditation.rejected', 'onboarding.completed']);
    expect(verificationEventTypes(state({ onboardingCompleted: true }), state())).toEqual([]);
  });
});
