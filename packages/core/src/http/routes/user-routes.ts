import { RialtoError } from '../../errors.js';
import type { FacadeGroups } from '../../facade/index.js';
import { noSuchUser } from '../../facade/users.js';
import { isUuid } from '../../internal/is-uuid.js';
import type { Services } from '../../services.js';
import type { UserRecord } from '../../store/store.js';
import { userCreationSchema } from '../../users/user-lifecycle.js';
import { userRoleSchema } from '../../users/user-roles.js';
import { userPatchSchema } from '../../users/users.js';
import type { AdminCaller, ApiKeyCaller } from '../credentials.js';
import { respond } from '../messages.js';
import { declareRoute, type Route } from '../route.js';
import {
  sessionEndedResponseSchema,
  sessionsEndedResponseSchema,
  userIdentitiesJson,
  userIdentitiesResponseSchema,
  userSessionsJson,
  userSessionsResponseSchema,
} from '../user-sessions-wire-format.js';
import { userDeletedResponseSchema, userJson, userResponseSchema } from '../wire-format.js';

/** `/identity/users` and `/identity/users/:user_id[/role]`, scoped to the caller's organization. */
export function userRoutes({ users: userRecords }: Services, { users }: FacadeGroups): Route[] {
  /**
   * The user a partner's backend (its own org's) or the service admin (any org's) acts on.
   * @throws RialtoError `not_found`
   */
  async function targetUser(caller: ApiKeyCaller | AdminCaller, userId: string): Promise<UserRecord> {
    const user = !isUuid(userId)
      ? null
      : caller.kind === 'admin'
        ? await userRecords.find(userId)
        : await users.get(caller.orgId, userId);
    if (!user) throw noSuchUser();
    return user;
  }

  return [
    declareRoute({
      route: 'POST /identity/users',
      credentials: ['apiKey', 'adminToken'],
      body: userCreationSchema,
      operationId: 'createUser',
      summary: 'Create a user before its first sign-in (import), with its initial verification state',
      tag: 'Users',
      responses: { 201: userResponseSchema },
      errors: ['org_mismatch', 'invalid_request', 'not_found', 'conflict', 'temporarily_unavailable'],
      async run(_request, _params, caller, { org_id: bodyOrgId, ...creation }) {
        const keyOrgId = caller.kind === 'api_key' ? caller.orgId : undefined;
        if (keyOrgId !== undefined && bodyOrgId !== undefined && bodyOrgId !== keyOrgId) {
          throw new RialtoError('org_mismatch');
        }
        const orgId = keyOrgId ?? bodyOrgId;
        if (orgId === undefined) {
          throw new RialtoError('invalid_request', 'org_id: required with admin credentials.');
        }
        return respond(201, userResponseSchema, userJson(await users.create(orgId, creation)));
      },
    }),
    declareRoute({
      route: 'DELETE /identity/users/{user_id}',
      credentials: ['apiKey', 'orgAdminToken'],
      operationId: 'deleteUser',
      summary: 'Erase a user of your organization',
      tag: 'Users',
      responses: { 200: userDeletedResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { user_id }, caller) {
        await users.remove(caller.orgId, user_id);
        return respond(200, userDeletedResponseSchema, { user_id, deleted: true });
      },
    }),
    declareRoute({
      route: 'GET /identity/users/{user_id}',
      credentials: ['apiKey', 'accessToken'],
      operationId: 'getUser',
      summary: 'Read a user: any of your org with the API key or an org admin token, else yourself',
      tag: 'Users',
      responses: { 200: userResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { user_id }, caller) {
        // A plain user reads only itself. Another user of its org, like another org's user, is
        // indistinguishable from a missing one: 404 either way, so ids cannot be probed.
        const mayRead = caller.kind === 'api_key' || caller.isOrgAdmin || caller.userId === user_id;
        const user = mayRead ? await users.get(caller.orgId, user_id) : null;
        if (!user) throw noSuchUser();
        return respond(200, userResponseSchema, userJson(user));
      },
    }),
    declareRoute({
      route: 'PATCH /identity/users/{user_id}',
      credentials: ['apiKey', 'adminToken'],
      body: userPatchSchema,
      operationId: 'updateUserVerification',
      summary: "Change a user's onboarding, KYC or accreditation state",
      tag: 'Users',
      responses: { 200: userResponseSchema },
      errors: ['not_found', 'temporarily_unavailable', 'invalid_request', 'invalid_transition'],
      async run(_request, { user_id }, caller, patch) {
        // The org's API key acts within its org; admin credentials act on any user.
        const user = await targetUser(caller, user_id);
        return respond(200, userResponseSchema, userJson(await users.update(user.orgId, user.userId, patch)));
      },
    }),
    declareRoute({
      route: 'PUT /identity/users/{user_id}/role',
      credentials: ['apiKey', 'adminToken'],
      body: userRoleSchema,
      operationId: 'setUserRole',
      summary: 'Grant or withdraw the org admin role',
      tag: 'Users',
      responses: { 200: userResponseSchema },
      errors: ['not_found', 'temporarily_unavailable', 'invalid_request'],
      async run(_request, { user_id }, caller, { role }) {
        // Org admins cannot grant the role themselves: only the partner's backend or the service admin.
        const user = await targetUser(caller, user_id);
        return respond(200, userResponseSchema, userJson(await users.setRole(user.orgId, user.userId, role)));
      },
    }),
    declareRoute({
      route: 'GET /identity/users/{user_id}/identities',
      credentials: ['apiKey', 'adminToken'],
      operationId: 'listUserIdentities',
      summary: 'List the identities (issuer and subject) linked to a user',
      tag: 'Users',
      responses: { 200: userIdentitiesResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { user_id }, caller) {
        const user = await targetUser(caller, user_id);
        return respond(
          200,
          userIdentitiesResponseSchema,
          userIdentitiesJson(await users.listIdentities(user.orgId, user.userId)),
        );
      },
    }),
    declareRoute({
      route: 'GET /identity/users/{user_id}/sessions',
      credentials: ['apiKey', 'adminToken'],
      operationId: 'listUserSessions',
      summary: "List a user's sessions: the refresh-token families that can still be refreshed",
      tag: 'Users',
      responses: { 200: userSessionsResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { user_id }, caller) {
        const user = await targetUser(caller, user_id);
        return respond(
          200,
          userSessionsResponseSchema,
          userSessionsJson(await users.listSessions(user.orgId, user.userId)),
        );
      },
    }),
    declareRoute({
      route: 'DELETE /identity/users/{user_id}/sessions/{session_id}',
      credentials: ['apiKey', 'adminToken'],
      operationId: 'endUserSession',
      summary: "End one of a user's sessions: its refresh tokens stop working at once",
      tag: 'Users',
      responses: { 200: sessionEndedResponseSchema },
      errors: ['invalid_request', 'not_found', 'temporarily_unavailable'],
      async run(_request, { user_id, session_id }, caller) {
        const user = await targetUser(caller, user_id);
        await users.endSession(user.orgId, user.userId, session_id);
        return respond(200, sessionEndedResponseSchema, { session_id, ended: true });
      },
    }),
    declareRoute({
      route: 'DELETE /identity/users/{user_id}/sessions',
      credentials: ['apiKey', 'adminToken'],
      operationId: 'endUserSessions',
      summary: 'End every session of a user (sign out everywhere)',
      tag: 'Users',
      responses: { 200: sessionsEndedResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { user_id }, caller) {
        const user = await targetUser(caller, user_id);
        return respond(200, sessionsEndedResponseSchema, {
          ended: await users.endAllSessions(user.orgId, user.userId),
        });
      },
    }),
  ];
}
