import { RialtoError } from '../../errors.js';
import type { Services } from '../../services.js';
import { userCreationSchema } from '../../users/user-lifecycle.js';
import { userRoleSchema } from '../../users/user-roles.js';
import { userPatchSchema } from '../../users/users.js';
import { authenticateApiKeyOrAdmin } from '../admin-auth.js';
import { respond } from '../messages.js';
import { isUuid, parseBody, type Route } from '../route.js';
import { userDeletedResponseSchema, userJson, userResponseSchema } from '../wire-format.js';

/** `GET` and `PATCH /identity/users/:user_id` and its `/role`, scoped to the caller's organization. */
export function userRoutes({
  orgAccess,
  apiKeys,
  adminAuth,
  users,
  userRoles,
  userLifecycle,
  organizations,
  options,
}: Services): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/identity\/users$/,
      scheme: 'api_key',
      doc: {
        path: '/identity/users',
        operationId: 'createUser',
        summary: 'Create a user before its first sign-in (import), with its initial verification state',
        tag: 'Users',
        security: ['apiKey', 'adminToken'],
        requestBody: userCreationSchema,
        responses: { 201: userResponseSchema },
        errors: [
          'missing_api_key',
          'org_mismatch',
          'invalid_request',
          'not_found',
          'conflict',
          'temporarily_unavailable',
        ],
      },
      async run(request) {
        const keyOrgId = await authenticateApiKeyOrAdmin(request, apiKeys, adminAuth);
        const { org_id: bodyOrgId, ...creation } = parseBody(userCreationSchema, request);
        if (keyOrgId !== undefined && bodyOrgId !== undefined && bodyOrgId !== keyOrgId) {
          throw new RialtoError('org_mismatch');
        }
        const orgId = keyOrgId ?? bodyOrgId;
        if (orgId === undefined) {
          throw new RialtoError('invalid_request', 'org_id: required with admin credentials.');
        }
        if (!(await organizations.get(orgId))) throw new RialtoError('not_found', 'No such organization.');
        return respond(201, userResponseSchema, userJson(await userLifecycle.provision(orgId, creation)));
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/identity\/users\/([^/]+)$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/users/{user_id}',
        operationId: 'deleteUser',
        summary: 'Erase a user of your organization',
        tag: 'Users',
        security: ['apiKey', 'accessToken'],
        responses: { 200: userDeletedResponseSchema },
        errors: ['insufficient_role', 'not_found', 'temporarily_unavailable'],
      },
      async run(request, [userId]) {
        const orgId = await orgAccess.requireOrgWide(request);
        const removed = isUuid(userId) && (await userLifecycle.remove(orgId, userId));
        if (!removed) throw new RialtoError('not_found', 'No such user in your organization.');
        return respond(200, userDeletedResponseSchema, { user_id: userId, deleted: true });
      },
    },
    {
      method: 'GET',
      pattern: /^\/identity\/users\/([^/]+)$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/users/{user_id}',
        operationId: 'getUser',
        summary: 'Read a user: any of your org with the API key or an org admin token, else yourself',
        tag: 'Users',
        security: ['apiKey', 'accessToken'],
        responses: { 200: userResponseSchema },
        errors: ['not_found', 'temporarily_unavailable'],
      },
      async run(request, [userId]) {
        const caller = await orgAccess.authenticate(request);
        // A plain user reads only itself. Another user of its org, like another org's user, is
        // indistinguishable from a missing one: 404 either way, so ids cannot be probed.
        const mayRead = caller.kind === 'api_key' || caller.isOrgAdmin || caller.userId === userId;
        const user = mayRead && isUuid(userId) ? await options.store.getUser(caller.orgId, userId) : null;
        if (!user) throw new RialtoError('not_found', 'No such user in your organization.');
        return respond(200, userResponseSchema, userJson(user));
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/identity\/users\/([^/]+)$/,
      scheme: 'api_key',
      doc: {
        path: '/identity/users/{user_id}',
        operationId: 'updateUserVerification',
        summary: "Change a user's onboarding, KYC or accreditation state",
        tag: 'Users',
        security: ['apiKey', 'adminToken'],
        requestBody: userPatchSchema,
        responses: { 200: userResponseSchema },
        errors: [
          'missing_api_key',
          'not_found',
          'temporarily_unavailable',
          'invalid_request',
          'invalid_transition',
        ],
      },
      async run(request, [userId]) {
        // The org's API key acts within its org; admin credentials act on any user.
        const orgId = await authenticateApiKeyOrAdmin(request, apiKeys, adminAuth);
        const patch = parseBody(userPatchSchema, request);
        const user = !isUuid(userId)
          ? null
          : orgId === undefined
            ? await options.store.getUserById(userId)
            : await options.store.getUser(orgId, userId);
        if (!user) throw new RialtoError('not_found', 'No such user in your organization.');
        return respond(200, userResponseSchema, userJson(await users.update(user.orgId, user.userId, patch)));
      },
    },
    {
      method: 'PUT',
      pattern: /^\/identity\/users\/([^/]+)\/role$/,
      scheme: 'api_key',
      doc: {
        path: '/identity/users/{user_id}/role',
        operationId: 'setUserRole',
        summary: 'Grant or withdraw the org admin role',
        tag: 'Users',
        security: ['apiKey', 'adminToken'],
        requestBody: userRoleSchema,
        responses: { 200: userResponseSchema },
        errors: ['missing_api_key', 'not_found', 'temporarily_unavailable', 'invalid_request'],
      },
      async run(request, [userId]) {
        // Org admins cannot grant the role themselves: only the partner's backend or the service admin.
        const orgId = await authenticateApiKeyOrAdmin(request, apiKeys, adminAuth);
        const { role } = parseBody(userRoleSchema, request);
        const user = !isUuid(userId)
          ? null
          : orgId === undefined
            ? await options.store.getUserById(userId)
            : await options.store.getUser(orgId, userId);
        if (!user) throw new RialtoError('not_found', 'No such user in your organization.');
        return respond(200, userResponseSchema, userJson(await userRoles.set(user.orgId, user.userId, role)));
      },
    },
  ];
}
