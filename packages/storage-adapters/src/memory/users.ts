import type { UserRecord, UserStore } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { identityFromParts, inIdentityOrder } from '../internal/identities.js';
import { copy, copyFlat, copyFlatToKeep } from './copies.js';
import { enqueue, type MemoryState, removeUser } from './state.js';

// Taken out of the namespace once: these run on every exchange.
const { emailKey, identityKey, mayLinkWithinScope, claimedByLink } = storeKit;

export function memoryUsers(state: MemoryState): UserStore {
  const { users, userIdByIdentity, userIdByEmail } = state;

  return {
    async findOrCreateUser(input) {
      const byIdentity = identityKey(input.orgId, input.iss, input.sub, input.subjectClaim);
      const linkedUserId = userIdByIdentity.get(byIdentity);
      if (linkedUserId !== undefined) {
        return { outcome: 'existing', user: copyFlat(users.get(linkedUserId) as UserRecord) };
      }
      const byEmail = emailKey(input.orgId, input.email);
      const sameEmailUserId = userIdByEmail.get(byEmail);
      if (sameEmailUserId !== undefined) {
        const sameEmail = users.get(sameEmailUserId) as UserRecord;
        if (!mayLinkWithinScope(sameEmail, input)) return { outcome: 'conflict' };
        const claimed = claimedByLink(sameEmail, input);
        if (claimed) users.set(sameEmailUserId, claimed);
        userIdByIdentity.set(byIdentity, sameEmailUserId);
        return { outcome: 'linked', user: copyFlat(claimed ?? sameEmail) };
      }
      if (input.mayCreate === false) return { outcome: 'not_provisioned' };
      const user = copyFlatToKeep(input.newUser);
      users.set(user.userId, user);
      enqueue(state, input.eventsIfCreated);
      userIdByEmail.set(byEmail, user.userId);
      userIdByIdentity.set(byIdentity, user.userId);
      return { outcome: 'created', user: copyFlat(user) };
    },

    async getUser(orgId, userId) {
      const user = users.get(userId);
      return user && user.orgId === orgId ? copyFlat(user) : null;
    },

    async listUsers({ orgId, query, after, limit }) {
      const matching = [...users.values()].filter(
        (user) =>
          user.orgId === orgId &&
          storeKit.isAfterPosition(user.createdAt, user.userId, after) &&
          storeKit.matchesUserQuery(user, query),
      );
      return storeKit.sortedBy(matching, storeKit.newestUserFirst).slice(0, limit).map(copyFlat);
    },

    async getUserById(userId) {
      const user = users.get(userId);
      return user ? copyFlat(user) : null;
    },

    async updateUserVerification(input) {
      const user = users.get(input.userId);
      if (!user || user.orgId !== input.orgId) return { outcome: 'not_found' };
      if (!storeKit.sameVerification(user, input.expected)) {
        return { outcome: 'stale', user: copy(user) };
      }
      const updated: UserRecord = { ...user, ...copy(input.next), updatedAt: input.now };
      users.set(user.userId, updated);
      enqueue(state, input.events);
      return { outcome: 'updated', user: copy(updated) };
    },

    async createUser({ user, events }) {
      const byEmail = emailKey(user.orgId, user.email);
      if (userIdByEmail.has(byEmail)) return 'email_taken';
      users.set(user.userId, copyFlatToKeep(user));
      userIdByEmail.set(byEmail, user.userId);
      enqueue(state, events);
      return 'created';
    },

    async deleteUser({ orgId, userId, events }) {
      const user = users.get(userId);
      if (!user || user.orgId !== orgId) return false;
      removeUser(state, user);
      enqueue(state, events);
      return true;
    },

    async setUserRole({ orgId, userId, role, now }) {
      const user = users.get(userId);
      if (!user || user.orgId !== orgId) return null;
      const updated: UserRecord = { ...user, role, updatedAt: now };
      users.set(userId, updated);
      return copy(updated);
    },

    async listIdentities(orgId, userId) {
      if (users.get(userId)?.orgId !== orgId) return [];
      const identities = [];
      for (const [key, linkedUserId] of userIdByIdentity) {
        // The key is `[orgId, iss, sub, subjectClaim?]`; a user's links are all in its own org.
        if (linkedUserId === userId)
          identities.push(identityFromParts((JSON.parse(key) as string[]).slice(1)));
      }
      return inIdentityOrder(identities);
    },
  };
}
