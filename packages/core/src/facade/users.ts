import { RialtoError } from '../errors.js';
import { epochSeconds } from '../internal/clock.js';
import { isUuid } from '../internal/is-uuid.js';
import { validateInput } from '../internal/validate-input.js';
import { type Page, type PageRequest, readPage, readPageRequest } from '../listing/paging.js';
import type { Services } from '../services.js';
import type { RefreshFamilySummary, UserIdentityRecord, UserRecord, UserRole } from '../store/store.js';
import { normalizeEmail } from '../users/provision-user.js';
import { type UserCreation, userCreationSchema } from '../users/user-lifecycle.js';
import { userRoleSchema } from '../users/user-roles.js';
import { type UserVerificationPatch, userPatchSchema } from '../users/users.js';
import { noSuchOrganization } from './organizations.js';

/**
 * An organization's users, from host code (a KYC vendor's callback, an import, an admin console), as
 * the routes under `/identity/users` and the CLI act on them.
 */
export interface RialtoUsers {
  /** The user of `orgId`, as stored now. @returns `null` when the organization has no such user */
  get(orgId: string, userId: string): Promise<UserRecord | null>;
  /**
   * One page of the organization's users, newest first (ties by id), as
   * `GET /identity/organizations/:org_id/users` answers. `query` keeps the user whose id it is and
   * those whose email starts with it (normalized as stored emails are: ASCII letters lower-cased).
   * @throws RialtoError `not_found` (no such organization) or `invalid_request` (a `limit` outside
   *   1–200, a cursor this service did not issue)
   * @example
   * const { items } = await exchange.users.list(orgId, { query: 'ada@' });
   */
  list(orgId: string, request?: PageRequest): Promise<Page<UserRecord>>;
  /**
   * Creates a user before its first sign-in (importing existing customers), with its initial
   * verification state, as `POST /identity/users` does; a later exchange links to it by email under
   * the organization's linking policy. Records `user.created` for webhooks.
   * @throws RialtoError `invalid_request`, `not_found` (no such organization) or `conflict` (the
   *   organization has a user with this email)
   */
  create(orgId: string, input: Omit<UserCreation, 'org_id'>): Promise<UserRecord>;
  /**
   * Changes a user's verification state and records the webhook events it causes, atomically, as
   * `PATCH /identity/users/:user_id` does. A patch that changes nothing succeeds and emits nothing.
   * @throws RialtoError `not_found`, `invalid_request` (a flag contradicts a status) or `invalid_transition`
   * @example
   * await exchange.users.update(orgId, userId, { kycStatus: 'approved' });
   */
  update(orgId: string, userId: string, patch: UserVerificationPatch): Promise<UserRecord>;
  /**
   * Grants (`org_admin`) or withdraws (`member`) the org admin role, as `PUT /identity/users/:user_id/role`
   * does. Takes effect on this instance at once and on others within `lookupCacheTtlSeconds`.
   * @throws RialtoError `not_found` or `invalid_request`
   * @example
   * await exchange.users.setRole(orgId, userId, 'org_admin');
   */
  setRole(orgId: string, userId: string, role: UserRole): Promise<UserRecord>;
  /**
   * Erases a user (its record, identity links and email) and records `user.deleted`, as
   * `DELETE /identity/users/:user_id` does. Its refresh tokens stop working at once; its access tokens
   * are refused within `lookupCacheTtlSeconds`.
   * @throws RialtoError `not_found`
   */
  remove(orgId: string, userId: string): Promise<void>;
  /**
   * The identities (issuer, subject claim, value) linked to a user, as
   * `GET /identity/users/:user_id/identities` answers.
   * @throws RialtoError `not_found`
   */
  listIdentities(orgId: string, userId: string): Promise<UserIdentityRecord[]>;
  /**
   * A user's sessions: the refresh-token families that can still be refreshed, most recently
   * refreshed first, at most `MAX_LISTED_SESSIONS`, as `GET /identity/users/:user_id/sessions` answers.
   * @throws RialtoError `not_found`
   */
  listSessions(orgId: string, userId: string): Promise<RefreshFamilySummary[]>;
  /**
   * Ends one session: its refresh tokens stop working at once (access tokens already issued run
   * until they expire). Records `refresh.revoked`.
   * @throws RialtoError `invalid_request` (not a session id) or `not_found` (no such user, or no
   *   live session of this user with that id)
   */
  endSession(orgId: string, userId: string, sessionId: string): Promise<void>;
  /**
   * Ends every session `listSessions` finds. One started while this runs can outlive it.
   * @returns how many were ended
   * @throws RialtoError `not_found`
   */
  endAllSessions(orgId: string, userId: string): Promise<number>;
}

/** The most sessions listed (and ended at once) per user; a user with more is a leak to look into. */
export const MAX_LISTED_SESSIONS = 100;

const userCreationInputSchema = userCreationSchema.omit({ org_id: true });

export function noSuchUser(): RialtoError {
  return new RialtoError('not_found', 'No such user in your organization.');
}

export function createUsersFacade({
  users,
  userRoles,
  userLifecycle,
  organizations,
  store,
  events,
}: Services): RialtoUsers {
  const isUserId = (orgId: string, userId: string) => isUuid(orgId) && isUuid(userId);

  /** @throws RialtoError `not_found` unless `orgId` has this user */
  async function existingUser(orgId: string, userId: string): Promise<UserRecord> {
    const user = isUserId(orgId, userId) ? await users.get(orgId, userId) : null;
    if (!user) throw noSuchUser();
    return user;
  }

  async function sessionsOf(orgId: string, userId: string): Promise<RefreshFamilySummary[]> {
    await existingUser(orgId, userId);
    return store.listRefreshFamilies({ orgId, userId, now: epochSeconds(), limit: MAX_LISTED_SESSIONS });
  }

  async function end(orgId: string, userId: string, familyId: string): Promise<void> {
    await store.revokeRefreshTokenFamily(familyId, epochSeconds());
    events.emit('refresh.revoked', { orgId, userId, familyId });
  }

  return {
    get: async (orgId, userId) => (isUserId(orgId, userId) ? users.get(orgId, userId) : null),
    async list(orgId, request) {
      const page = readPageRequest(request);
      if (!(isUuid(orgId) && (await organizations.get(orgId)))) throw noSuchOrganization();
      const query = page.query === null ? null : normalizeEmail(page.query);
      return readPage(
        page,
        (limit) => store.listUsers({ orgId, query, after: page.after, limit }),
        (user) => ({ createdAt: user.createdAt, id: user.userId }),
      );
    },
    async create(orgId, input) {
      const creation = validateInput(userCreationInputSchema, input);
      if (!(isUuid(orgId) && (await organizations.get(orgId)))) throw noSuchOrganization();
      return userLifecycle.provision(orgId, creation);
    },
    async update(orgId, userId, patch) {
      // The route's body schema, so host code (and the console's forms) cannot store a status the
      // route would refuse.
      const validated = validateInput(userPatchSchema, {
        onboarding_completed: patch.onboardingCompleted,
        kyc_status: patch.kycStatus,
        accreditation_status: patch.accreditationStatus,
        kyc_completed: patch.kycCompleted,
        accredited: patch.accredited,
        accreditation_verified: patch.accreditationVerified,
      });
      if (!isUserId(orgId, userId)) throw noSuchUser();
      return users.update(orgId, userId, validated);
    },
    async setRole(orgId, userId, role) {
      const update = validateInput(userRoleSchema, { role });
      if (!isUserId(orgId, userId)) throw noSuchUser();
      return userRoles.set(orgId, userId, update.role);
    },
    async remove(orgId, userId) {
      if (!(isUserId(orgId, userId) && (await userLifecycle.remove(orgId, userId)))) throw noSuchUser();
    },
    async listIdentities(orgId, userId) {
      await existingUser(orgId, userId);
      return store.listIdentities(orgId, userId);
    },
    listSessions: sessionsOf,
    async endSession(orgId, userId, sessionId) {
      if (!isUuid(sessionId)) throw new RialtoError('invalid_request', 'session_id: not a session id.');
      // Only a session the store lists for this org's user: another org's family id ends nothing.
      const sessions = await sessionsOf(orgId, userId);
      if (!sessions.some((session) => session.familyId === sessionId))
        throw new RialtoError('not_found', 'No such session of this user.');
      await end(orgId, userId, sessionId);
    },
    async endAllSessions(orgId, userId) {
      const sessions = await sessionsOf(orgId, userId);
      for (const session of sessions) await end(orgId, userId, session.familyId);
      return sessions.length;
    },
  };
}
