import type { FindOrCreateUserInput, IssuerPolicyRecord, LinkScope, UserRecord } from '../store.js';

/** Registrations stored before link scopes existed link within the whole organization, as they did. */
export function linkScopeOf(registration: { policy?: Pick<IssuerPolicyRecord, 'linkScope'> }): LinkScope {
  return registration.policy?.linkScope ?? 'org';
}

type LinkingInput = Pick<
  FindOrCreateUserInput,
  'mayLinkByEmail' | 'registrationId' | 'linkWithinRegistration'
>;

/**
 * Whether `findOrCreateUser` may link the input's new identity to `user`, the org's user with the
 * same email. Under link scope `issuer` only a user first seen through the same registration, or one
 * no identity has claimed yet, may be joined; a user of unknown origin (stored before
 * `firstSeenThrough` existed) may not.
 */
export function mayLinkWithinScope(user: Pick<UserRecord, 'firstSeenThrough'>, input: LinkingInput): boolean {
  if (!input.mayLinkByEmail) return false;
  if (input.linkWithinRegistration !== true) return true;
  return user.firstSeenThrough === null || user.firstSeenThrough === input.registrationId;
}

/**
 * The user as a link by email leaves it: a user no identity had claimed records the registration
 * that claims it. `null` when the link changes nothing in the user record.
 */
export function claimedByLink(user: UserRecord, input: LinkingInput): UserRecord | null {
  if (user.firstSeenThrough !== null || input.registrationId === undefined) return null;
  return { ...user, firstSeenThrough: input.registrationId };
}
