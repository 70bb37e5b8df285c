import { randomUUID } from 'node:crypto';
import { RialtoError } from './errors.js';
import { epochSeconds } from './internal/clock.js';
import type { OrganizationRecord, Store, UserRecord, WebhookEventRecord } from './store.js';
import { INITIAL_VERIFICATION, userEvent } from './users.js';
import type { VerifiedIdentity } from './verify-id-token.js';

/** Trim, lower-case, Unicode NFC: one mailbox, one key, however the IdP spelled it. */
export function normalizeEmail(email: string): string {
  return email.trim().normalize('NFC').toLowerCase();
}

/** Whether the org's policy lets this identity be linked to an existing user by email. */
export function mayLinkByEmail(org: OrganizationRecord, identity: VerifiedIdentity): boolean {
  switch (org.emailLinking) {
    case 'verified':
      return identity.emailVerified === true;
    case 'unless_unverified':
      return identity.emailVerified !== false;
    case 'never':
      return false;
  }
}

export interface ProvisionedUser {
  user: UserRecord;
  created: boolean;
}

/**
 * Finds the org's user for a verified identity, or links or creates one, in one atomic store call.
 * @throws RialtoError `account_conflict` when a user has the email and the policy forbids linking
 */
export async function provisionUser(
  store: Store,
  org: OrganizationRecord,
  identity: VerifiedIdentity,
): Promise<ProvisionedUser> {
  const now = epochSeconds();
  const email = normalizeEmail(identity.email);
  const newUser: UserRecord = {
    userId: randomUUID(),
    orgId: org.orgId,
    email,
    role: 'member',
    ...INITIAL_VERIFICATION,
    createdAt: now,
    updatedAt: now,
  };
  let createdEvents: WebhookEventRecord[] | undefined;
  const result = await store.findOrCreateUser({
    orgId: org.orgId,
    iss: identity.iss,
    sub: identity.sub,
    email,
    mayLinkByEmail: mayLinkByEmail(org, identity),
    mayCreate: org.provisioning !== 'link_only',
    newUserId: newUser.userId,
    now,
    // Recorded with the user itself, so a created user always has its webhook and a failed create
    // none. Built on first read: nearly every exchange is a returning user, and a store reads it
    // only when it creates one.
    get eventsIfCreated() {
      createdEvents ??= [userEvent('user.created', newUser, now)];
      return createdEvents;
    },
  });
  if (result.outcome === 'conflict') {
    throw new RialtoError(
      'account_conflict',
      "A user with this email already exists and the organization's policy does not allow linking this identity to it.",
    );
  }
  if (result.outcome === 'not_provisioned') throw new RialtoError('user_not_provisioned');
  return { user: result.user, created: result.outcome === 'created' };
}
