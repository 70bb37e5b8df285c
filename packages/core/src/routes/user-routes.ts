import { authenticateApiKeyOrAdmin } from '../admin-auth.js';
import { RialtoError } from '../errors.js';
import { json } from '../internal/http.js';
import { isUuid, parseBody, type Route } from '../internal/route.js';
import type { Services } from '../services.js';
import { userPatchSchema } from '../users.js';
import { userJson } from '../wire-format.js';

/** `GET` and `PATCH /identity/users/:user_id`, scoped to the caller's organization. */
export function userRoutes({ accessTokens, apiKeys, adminAuth, users, options }: Services): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/identity\/users\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [userId]) {
        const { claims } = await accessTokens.authenticate(request.headers);
        // Another org's user is indistinguishable from a missing one: 404 either way.
        const user = isUuid(userId) ? await options.store.getUser(claims.org_id, userId) : null;
        if (!user) throw new RialtoError('not_found', 'No such user in your organization.');
        return json(200, userJson(user));
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/identity\/users\/([^/]+)$/,
      scheme: 'api_key',
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
        return json(200, userJson(await users.update(user.orgId, user.userId, patch)));
      },
    },
  ];
}
