import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { epochSeconds } from '../internal/clock.js';
import type { Store, UserRecord } from '../store/store.js';
import type { RialtoEvents } from '../telemetry/audit-events.js';
import { webhookEvent } from '../webhooks/event-catalogue.js';
import { normalizeEmail } from './provision-user.js';
import type { UserLookup } from './user-lookup.js';
import { ACCREDITATION_STATUSES, INITIAL_VERIFICATION, KYC_STATUSES, userEvent } from './users.js';

/** Body of `POST /identity/users`; `org_id` only with admin credentials (an API key names its org). */
export const userCreationSchema = z.strictObject({
  org_id: z.uuid().optional(),
  email: z.email().max(320),
  onboarding_completed: z.boolean().optional(),
  kyc_status: z.enum(KYC_STATUSES).optional(),
  accreditation_status: z.enum(ACCREDITATION_STATUSES).optional(),
});

export type UserCreation = z.infer<typeof userCreationSchema>;

export interface UserLifecycle {
  /**
   * Creates a user before its first sign-in (importing existing customers), with its initial
   * verification state, and records `user.created`. A later exchange links to it by email under the
   * org's linking policy; with provisioning `link_only`, only such users can sign in.
   * @throws RialtoError `conflict` when the org has a user with this email
   */
  provision(orgId: string, input: Omit<UserCreation, 'org_id'>): Promise<UserRecord>;
  /**
   * Erases a user: its record (email and verification state), identity links and email entry, and
   * records `user.deleted` (carrying ids only). Its refresh tokens stop working at once; its access
   * tokens are refused within the lookup-cache TTL. A later exchange by the same person creates a
   * new user.
   * @returns `false` when `orgId` has no such user
   */
  remove(orgId: string, userId: string): Promise<boolean>;
}

export function createUserLifecycle(store: Store, events: RialtoEvents, users: UserLookup): UserLifecycle {
  return {
    async provision(orgId, input) {
      const now = epochSeconds();
      const user: UserRecord = {
        userId: randomUUID(),
        orgId,
        email: normalizeEmail(input.email),
        role: 'member',
        // Created beforehand: the first identity that claims it by email, through any issuer, records its own.
        firstSeenThrough: null,
        onboardingCompleted: input.onboarding_completed ?? INITIAL_VERIFICATION.onboardingCompleted,
        kycStatus: input.kyc_status ?? INITIAL_VERIFICATION.kycStatus,
        accreditationStatus: input.accreditation_status ?? INITIAL_VERIFICATION.accreditationStatus,
        createdAt: now,
        updatedAt: now,
      };
      const outcome = await store.createUser({ user, events: [userEvent('user.created', user, now)] });
      if (outcome === 'email_taken') {
        throw new RialtoError('conflict', 'A user with this email already exists in the organization.');
      }
      events.emit('user.provisioned', { orgId, userId: user.userId });
      return user;
    },

    async remove(orgId, userId) {
      const now = epochSeconds();
      // Ids only: the personal data is what is being erased.
      const deleted = webhookEvent('user.deleted', orgId, { user_id: userId, org_id: orgId }, now);
      const removed = await store.deleteUser({ orgId, userId, events: [deleted] });
      users.forget(userId);
      if (removed) events.emit('user.deleted', { orgId, userId });
      return removed;
    },
  };
}
