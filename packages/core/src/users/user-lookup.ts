import { LRUCache } from 'lru-cache';
import type { Store, UserRecord } from '../store/store.js';

/** Users by id, cached briefly: the store is asked at most once per user per `cacheTtlSeconds`. */
export interface UserLookup {
  /** @returns the user, or `null` when it does not exist (cached too); rejects when the store is down */
  get(userId: string): Promise<UserRecord | null>;
  /** Drops a user this instance changed or deleted, so the change applies here at once. */
  forget(userId: string): void;
}

export function createUserLookup(
  store: Store,
  options: { cacheTtlSeconds: number; maxCachedUsers: number },
): UserLookup {
  const users = new LRUCache<string, { user: UserRecord | null }>({
    max: options.maxCachedUsers,
    ttl: options.cacheTtlSeconds * 1000,
    // Compare against the clock directly instead of arming a timer per lookup.
    ttlResolution: 0,
    fetchMethod: async (userId) => ({ user: await store.getUserById(userId) }),
  });
  return {
    async get(userId) {
      // A fresh hit is answered from get(): fetch() costs a promise chain per call even on a hit.
      return (users.get(userId) ?? (await users.fetch(userId)))?.user ?? null;
    },
    forget(userId) {
      users.delete(userId);
    },
  };
}
