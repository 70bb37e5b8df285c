import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { epochSeconds } from '../internal/clock.js';
import type { Store, UserRecord, UserRole } from '../store/store.js';
import type { RialtoEvents } from '../telemetry/audit-events.js';
import type { UserLookup } from './user-lookup.js';

export const USER_ROLES = ['member', 'org_admin'] as const satisfies readonly UserRole[];

/** Body of `PUT /identity/users/:user_id/role`. */
export const userRoleSchema = z.strictObject({ role: z.enum(USER_ROLES) });

export interface UserRoles {
  /**
   * Grants or withdraws the org admin role. Takes effect on this instance at once and on others
   * within `lookupCacheTtlSeconds`; access tokens minted before keep their `org_role` claim until
   * they expire, but the service's org-wide routes check the stored role.
   * @throws RialtoError `not_found` when `orgId` has no such user
   * @example
   * await exchange.userRoles.set(orgId, userId, 'org_admin');
   */
  set(orgId: string, userId: string, role: UserRole): Promise<UserRecord>;
}

export function createUserRoles(store: Store, events: RialtoEvents, users: UserLookup): UserRoles {
  return {
    async set(orgId, userId, role) {
      const user = await store.setUserRole({ orgId, userId, role, now: epochSeconds() });
      if (!user) throw new RialtoError('not_found', 'No such user in your organization.');
      users.forget(userId);
      events.emit('user.role_changed', { orgId, userId, role });
      return user;
    },
  };
}
