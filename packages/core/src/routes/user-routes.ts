import { RialtoError } from '../errors.js';
import { json } from '../internal/http.js';
import { isUuid, type Route } from '../internal/route.js';
import type { Services } from '../services.js';
import { userJson } from '../wire-format.js';

/** `GET /identity/users/:user_id`, scoped to the access token's organization. */
export function userRoutes({ accessTokens, options }: Services): Route[] {
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
  ];
}
