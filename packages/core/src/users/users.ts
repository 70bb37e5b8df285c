import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { userJson } from '../http/wire-format.js';
import { epochSeconds } from '../internal/clock.js';
import { sameVerification } from '../store/kit/verification.js';
import type {
  AccreditationStatus,
  KycStatus,
  Store,
  UserRecord,
  UserVerification,
  WebhookEventRecord,
} from '../store/store.js';
import type { RialtoEvents } from '../telemetry/audit-events.js';
import { webhookEvent } from '../webhooks/event-catalogue.js';
import { ACCREDITATION_STATUSES, KYC_STATUSES, verificationFlags } from './verification-flags.js';

export { ACCREDITATION_STATUSES, KYC_STATUSES };

/**
 * Where each KYC status may go. A decision (approved, denied, resubmission) may arrive at any point
 * of an open session, since vendors decide on their own schedule; `denied` allows a new session;
 * `approved` is final.
 */
const KYC_TRANSITIONS: Record<KycStatus, readonly KycStatus[]> = {
  not_started: ['session_created', 'pii_submitted', 'processing', 'approved', 'denied'],
  session_created: ['pii_submitted', 'processing', 'approved', 'denied', 'resubmission_requested'],
  pii_submitted: ['processing', 'approved', 'denied', 'resubmission_requested'],
  processing: ['approved', 'denied', 'resubmission_requested'],
  resubmission_requested: ['session_created', 'pii_submitted', 'processing', 'approved', 'denied'],
  denied: ['session_created'],
  approved: [],
};

/** `rejected` allows submitting again; `verified` is final. */
const ACCREDITATION_TRANSITIONS: Record<AccreditationStatus, readonly AccreditationStatus[]> = {
  not_submitted: ['submitted', 'verified', 'rejected'],
  submitted: ['verified', 'rejected'],
  rejected: ['submitted', 'verified'],
  verified: [],
};

const KYC_EVENTS: Record<KycStatus, string | undefined> = {
  not_started: undefined,
  session_created: 'kyc.session.created',
  pii_submitted: 'kyc.session.pii_submitted',
  processing: 'kyc.session.processing',
  resubmission_requested: 'kyc.session.resubmission_requested',
  approved: 'kyc.session.approved',
  denied: 'kyc.session.denied',
};

const ACCREDITATION_EVENTS: Record<AccreditationStatus, string | undefined> = {
  not_submitted: undefined,
  submitted: 'accreditation.submitted',
  verified: 'accreditation.verified',
  rejected: 'accreditation.rejected',
};

/** The state of a user created by a first exchange. */
export const INITIAL_VERIFICATION: UserVerification = {
  onboardingCompleted: false,
  kycStatus: 'not_started',
  accreditationStatus: 'not_submitted',
};

/**
 * A change to a user's verification state. Statuses and the boolean flags may be mixed; a flag
 * maps to a status (see `resolveVerificationPatch`) and must agree with a status given beside it.
 */
export interface UserVerificationPatch {
  onboardingCompleted?: boolean;
  kycStatus?: KycStatus;
  accreditationStatus?: AccreditationStatus;
  /** `true` ≡ `kycStatus: 'approved'`. `false` changes nothing, unless the user is approved (refused). */
  kycCompleted?: boolean;
  /** `true` ≡ `accreditationStatus: 'submitted'` (kept when already verified). `false` rejects a submitted accreditation. */
  accredited?: boolean;
  /** `true` ≡ `accreditationStatus: 'verified'`. `false` changes nothing, unless verified (refused). */
  accreditationVerified?: boolean;
}

/** Body of `PATCH /identity/users/:user_id`, converted to a `UserVerificationPatch`. */
export const userPatchSchema = z
  .strictObject({
    onboarding_completed: z.boolean().optional(),
    kyc_status: z.enum(KYC_STATUSES).optional(),
    accreditation_status: z.enum(ACCREDITATION_STATUSES).optional(),
    kyc_completed: z.boolean().optional(),
    accredited: z.boolean().optional(),
    accreditation_verified: z.boolean().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'the body must name at least one field')
  .transform(
    (body): UserVerificationPatch => ({
      onboardingCompleted: body.onboarding_completed,
      kycStatus: body.kyc_status,
      accreditationStatus: body.accreditation_status,
      kycCompleted: body.kyc_completed,
      accredited: body.accredited,
      accreditationVerified: body.accreditation_verified,
    }),
  );

function invalidTransition(what: string, from: string, to: string): RialtoError {
  return new RialtoError('invalid_transition', `${what} cannot change from ${from} to ${to}.`);
}

function contradiction(description: string): RialtoError {
  return new RialtoError('invalid_request', description);
}

function targetKycStatus(current: KycStatus, patch: UserVerificationPatch): KycStatus {
  const { kycStatus, kycCompleted } = patch;
  if (kycStatus !== undefined && kycCompleted !== undefined && kycCompleted !== (kycStatus === 'approved')) {
    throw contradiction('kyc_completed contradicts kyc_status.');
  }
  if (kycStatus !== undefined) return kycStatus;
  if (kycCompleted === true) return 'approved';
  if (kycCompleted === false && current === 'approved') {
    throw invalidTransition('KYC status', 'approved', 'not approved');
  }
  return current;
}

function targetAccreditationStatus(
  current: AccreditationStatus,
  patch: UserVerificationPatch,
): AccreditationStatus {
  const { accreditationStatus: status, accredited, accreditationVerified: verified } = patch;
  if (status !== undefined) {
    const flags = verificationFlags({ ...INITIAL_VERIFICATION, accreditationStatus: status });
    if (
      (accredited !== undefined && accredited !== flags.accredited) ||
      (verified !== undefined && verified !== flags.accreditationVerified)
    ) {
      throw contradiction('accredited or accreditation_verified contradicts accreditation_status.');
    }
    return status;
  }
  if (verified === true) {
    if (accredited === false) throw contradiction('accreditation_verified: true requires accredited.');
    return 'verified';
  }
  if (verified === false && current === 'verified') {
    throw invalidTransition('Accreditation status', 'verified', 'not verified');
  }
  if (accredited === true) return current === 'submitted' || current === 'verified' ? current : 'submitted';
  if (accredited === false) {
    if (current === 'submitted') return 'rejected';
    if (current === 'verified') throw invalidTransition('Accreditation status', 'verified', 'not accredited');
  }
  return current;
}

/**
 * The state a patch leads to from `current`.
 * @throws RialtoError `invalid_request` (a flag contradicts a status) or `invalid_transition`
 */
export function resolveVerificationPatch(
  current: UserVerification,
  patch: UserVerificationPatch,
): UserVerification {
  const next: UserVerification = {
    onboardingCompleted: patch.onboardingCompleted ?? current.onboardingCompleted,
    kycStatus: targetKycStatus(current.kycStatus, patch),
    accreditationStatus: targetAccreditationStatus(current.accreditationStatus, patch),
  };
  if (next.kycStatus !== current.kycStatus && !KYC_TRANSITIONS[current.kycStatus].includes(next.kycStatus)) {
    throw invalidTransition('KYC status', current.kycStatus, next.kycStatus);
  }
  if (
    next.accreditationStatus !== current.accreditationStatus &&
    !ACCREDITATION_TRANSITIONS[current.accreditationStatus].includes(next.accreditationStatus)
  ) {
    throw invalidTransition('Accreditation status', current.accreditationStatus, next.accreditationStatus);
  }
  return next;
}

/** The webhook event types a change emits: one per status that changed, and onboarding completion. */
export function verificationEventTypes(current: UserVerification, next: UserVerification): string[] {
  const types: (string | undefined)[] = [];
  if (next.kycStatus !== current.kycStatus) types.push(KYC_EVENTS[next.kycStatus]);
  if (next.accreditationStatus !== current.accreditationStatus) {
    types.push(ACCREDITATION_EVENTS[next.accreditationStatus]);
  }
  if (next.onboardingCompleted && !current.onboardingCompleted) types.push('onboarding.completed');
  return types.filter((type): type is string => type !== undefined);
}

/** Events about a user carry the user as the HTTP API shows it. */
export function userEvent(type: string, user: UserRecord, nowSeconds: number): WebhookEventRecord {
  return webhookEvent(type, user.orgId, userJson(user), nowSeconds);
}

export interface Users {
  /** The user of `orgId`, read from the store (never a cache), so it shows the latest change. @returns `null` when there is none */
  get(orgId: string, userId: string): Promise<UserRecord | null>;
  /** The user with this id in whichever organization, read from the store. @returns `null` when there is none */
  find(userId: string): Promise<UserRecord | null>;
  /**
   * Changes a user's verification state and records the webhook events it causes, atomically.
   * A patch that changes nothing succeeds and emits nothing.
   * @throws RialtoError `not_found` (no such user in `orgId`), `invalid_request` or `invalid_transition`
   * @example
   * await exchange.users.update(orgId, userId, { kycStatus: 'approved' });
   */
  update(orgId: string, userId: string, patch: UserVerificationPatch): Promise<UserRecord>;
}

// A compare-and-set that keeps losing means a flood of changes to one user; give up with a 503-like error.
const MAX_UPDATE_ATTEMPTS = 5;

export function createUsers(store: Store, events: RialtoEvents): Users {
  return {
    get: (orgId, userId) => store.getUser(orgId, userId),
    find: (userId) => store.getUserById(userId),

    async update(orgId, userId, patch) {
      let user = await store.getUser(orgId, userId);
      for (let attempt = 1; user && attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
        const current: UserVerification = {
          onboardingCompleted: user.onboardingCompleted,
          kycStatus: user.kycStatus,
          accreditationStatus: user.accreditationStatus,
        };
        const next = resolveVerificationPatch(current, patch);
        const types = verificationEventTypes(current, next);
        if (sameVerification(next, current)) return user;
        const now = epochSeconds();
        const updated: UserRecord = { ...user, ...next, updatedAt: now };
        const result = await store.updateUserVerification({
          orgId,
          userId,
          expected: current,
          next,
          now,
          events: types.map((type) => userEvent(type, updated, now)),
        });
        if (result.outcome === 'updated') {
          events.emit('user.updated', { orgId, userId, eventTypes: types });
          return result.user;
        }
        user = result.outcome === 'stale' ? result.user : null;
      }
      if (!user) throw new RialtoError('not_found', 'No such user in your organization.');
      throw new RialtoError(
        'temporarily_unavailable',
        'The user is being changed concurrently. Retry later.',
      );
    },
  };
}
