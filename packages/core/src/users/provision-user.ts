import { randomUUID } from 'node:crypto';
import { RialtoError } from '../errors.js';
import type { VerifiedIdentity } from '../exchange/id-token.js';
import { epochSeconds } from '../internal/clock.js';
import { linkScopeOf, mayLinkWithinScope } from '../store/kit/link-scope.js';
import type {
  EmailLinkingPolicy,
  FindOrCreateUserInput,
  IssuerPolicyRecord,
  OrganizationRecord,
  Store,
  UserRecord,
  WebhookEventRecord,
} from '../store/store.js';
import { INITIAL_VERIFICATION, userEvent } from './users.js';

// The user search matches email prefixes (`ann@x.co` finds `ann@x.com` too): the debugger looks
// through this many for the exact one.
const EMAIL_SEARCH_LIMIT = 100;

/**
 * The form an email is stored and compared in: trimmed, ASCII letters lower-cased, nothing else
 * changed. Domains are case-insensitive and every IdP we know treats ASCII local parts so too,
 * but no Unicode case folding or normalization is applied: NFC/NFKC and `toLowerCase` map
 * distinct code points onto one (U+212A KELVIN SIGN becomes `k`, so `\u212Aate@corp.example`
 * would name `kate@corp.example`), which lets an attacker who controls one spelling claim the
 * other's account. Two spellings the IdP keeps apart stay apart here; at worst one person gets
 * two users, never two people one user.
 */
export function normalizeEmail(email: string): string {
  return email.trim().replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * Whether the IdP vouches for the address itself. `preferred_username` and `upn` are names a user
 * or tenant admin can set to anyone's address on some IdPs (the "nOAuth" takeover on Azure AD),
 * and `email_verified` speaks only about `email`.
 *
 * `trustUsernameClaims` is the issuer registration's explicit opt-in (`trust_username_claims`).
 */
export function isEmailVouchedFor(identity: VerifiedIdentity, trustUsernameClaims = false): boolean {
  return identity.emailClaim === 'email' || trustUsernameClaims;
}

/**
 * How the issuer registration the token was verified against lets a new identity link to an
 * existing user by email (an `IssuerRegistrationRecord` is one).
 */
export interface EmailLinkingRules {
  /** The registration itself: users it creates or first claims record it (`firstSeenThrough`). */
  registrationId: string;
  /** Its link scope (`linkScopeOf`): absent on registrations stored before it, which read as `org`. */
  policy?: Pick<IssuerPolicyRecord, 'linkScope'>;
  emailLinking: EmailLinkingPolicy;
  /**
   * The explicit opt-in that lets an email read from `preferred_username` or `upn` link to an
   * existing user. Those claims are mutable and unverified at Azure AD (the nOAuth takeover).
   */
  trustUsernameClaims: boolean;
}

/** Whether the issuer's linking rules let this identity be linked to an existing user by email. */
export function mayLinkByEmail(linking: EmailLinkingRules, identity: VerifiedIdentity): boolean {
  if (!isEmailVouchedFor(identity, linking.trustUsernameClaims)) return false;
  switch (linking.emailLinking) {
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
  linking: EmailLinkingRules,
): Promise<ProvisionedUser> {
  const now = epochSeconds();
  const email = normalizeEmail(identity.email);
  const newUser = newUserRecord(org.orgId, email, now, linking.registrationId);
  let createdEvents: WebhookEventRecord[] | undefined;
  const result = await store.findOrCreateUser({
    orgId: org.orgId,
    iss: identity.iss,
    sub: identity.sub,
    subjectClaim: identity.subjectClaim,
    email,
    ...provisioningPermissions(org, identity, linking),
    newUser,
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
    const permissions = provisioningPermissions(org, identity, linking);
    throw permissions.mayLinkByEmail && permissions.linkWithinRegistration
      ? outOfLinkScope()
      : accountConflict();
  }
  if (result.outcome === 'not_provisioned') throw new RialtoError('user_not_provisioned');
  return { user: result.user, created: result.outcome === 'created' };
}

/** What `provisionUser` would do, worked out without writing. */
export type ProvisioningPreview =
  /** The identity is linked to `user` already. */
  | { outcome: 'existing'; user: UserRecord }
  /** The org has a user with this email, and this identity would be linked to it. */
  | { outcome: 'linked' }
  /** Neither is known: a user would be created. */
  | { outcome: 'created' };

/**
 * What `provisionUser` would do for this identity now, for the token debugger. It asks the store
 * with linking and creating both refused, a call the Store contract makes write nothing, then
 * applies the same permissions `provisionUser` passes the store. A concurrent exchange may change the
 * answer before the real one runs.
 * @throws RialtoError `account_conflict` or `user_not_provisioned`, as `provisionUser` would
 */
export async function previewProvisioning(
  store: Store,
  org: OrganizationRecord,
  identity: VerifiedIdentity,
  linking: EmailLinkingRules,
): Promise<ProvisioningPreview> {
  const result = await lookUpIdentity(store, org.orgId, identity);
  if (result.outcome === 'existing' || result.outcome === 'linked') {
    return { outcome: 'existing', user: result.user };
  }
  const allowed = provisioningPermissions(org, identity, linking);
  if (result.outcome === 'conflict') {
    if (!allowed.mayLinkByEmail) throw accountConflict();
    const sameEmail = await userWithEmail(store, org.orgId, normalizeEmail(identity.email));
    // Gone meanwhile: the real exchange would create the user instead, as the preview cannot tell.
    if (sameEmail && !mayLinkWithinScope(sameEmail, allowed)) throw outOfLinkScope();
    return { outcome: 'linked' };
  }
  if (!allowed.mayCreate) throw new RialtoError('user_not_provisioned');
  return { outcome: 'created' };
}

/**
 * The user this identity is linked to already, or `null`; writes nothing. What the exchange
 * policy hook is given before anything is written.
 */
export async function findLinkedUser(
  store: Store,
  orgId: string,
  identity: VerifiedIdentity,
): Promise<UserRecord | null> {
  const result = await lookUpIdentity(store, orgId, identity);
  return result.outcome === 'existing' || result.outcome === 'linked' ? result.user : null;
}

/** The store's answer for an identity with linking and creating both refused: a call that writes nothing. */
function lookUpIdentity(store: Store, orgId: string, identity: VerifiedIdentity) {
  const now = epochSeconds();
  const email = normalizeEmail(identity.email);
  return store.findOrCreateUser({
    orgId,
    iss: identity.iss,
    sub: identity.sub,
    subjectClaim: identity.subjectClaim,
    email,
    mayLinkByEmail: false,
    mayCreate: false,
    // Never stored: `mayCreate: false` writes nothing.
    newUser: newUserRecord(orgId, email, now, null),
    now,
  });
}

/** The org's user with exactly this (normalized) email, or `null`; writes nothing. */
async function userWithEmail(store: Store, orgId: string, email: string): Promise<UserRecord | null> {
  const candidates = await store.listUsers({ orgId, query: email, after: null, limit: EMAIL_SEARCH_LIMIT });
  return candidates.find((user) => user.email === email) ?? null;
}

/** What the org and the issuer's linking rules let `provisionUser` do with a new identity. */
function provisioningPermissions(
  org: OrganizationRecord,
  identity: VerifiedIdentity,
  linking: EmailLinkingRules,
): Pick<FindOrCreateUserInput, 'mayLinkByEmail' | 'mayCreate' | 'registrationId' | 'linkWithinRegistration'> {
  return {
    mayLinkByEmail: mayLinkByEmail(linking, identity),
    mayCreate: org.provisioning !== 'link_only',
    registrationId: linking.registrationId,
    linkWithinRegistration: linkScopeOf(linking) === 'issuer',
  };
}

/** Linking by email was allowed, but the user with the email was first seen through another issuer. */
function outOfLinkScope(): RialtoError {
  return new RialtoError(
    'account_conflict',
    "A user with this email already exists, first seen through another of the organization's issuers, and this issuer links only to its own users (link_scope: issuer).",
  );
}

function accountConflict(): RialtoError {
  return new RialtoError(
    'account_conflict',
    "A user with this email already exists and the organization's policy does not allow linking this identity to it.",
  );
}

/** The user a first exchange creates: a `member` with every verification step still ahead. */
function newUserRecord(orgId: string, email: string, now: number, registrationId: string | null): UserRecord {
  return {
    userId: randomUUID(),
    orgId,
    email,
    role: 'member',
    firstSeenThrough: registrationId,
    ...INITIAL_VERIFICATION,
    createdAt: now,
    updatedAt: now,
  };
}
