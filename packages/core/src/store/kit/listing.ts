import type { ListingPosition, OrganizationRecord, UserRecord } from '../store.js';

/*
 * The rules of the paged listings (`listOrganizations`, `listUsers`) for stores that filter and
 * page in their own code; SQL stores express the same rules in their queries.
 */

/**
 * Whether a record comes strictly after `after` in a newest-first listing (newest `createdAt`
 * first, ties by id descending, compared by UTF-16 code units). Every record does when `after` is `null`.
 */
export function isAfterPosition(createdAt: number, id: string, after: ListingPosition | null): boolean {
  if (after === null) return true;
  return createdAt < after.createdAt || (createdAt === after.createdAt && id < after.id);
}

/**
 * Lower-cases ASCII letters only: what every backend folds alike (SQLite's `lower()` folds nothing
 * else). SQL stores fold the query with it and the column with `lower()`.
 */
export function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/**
 * `listOrganizations`'s filter: the org id itself, or a name containing `query`, ASCII letters
 * compared case-insensitively. A `null` query matches every organization.
 */
export function matchesOrganizationQuery(org: OrganizationRecord, query: string | null): boolean {
  if (query === null) return true;
  return org.orgId === query || asciiLowerCase(org.name).includes(asciiLowerCase(query));
}

/** `listUsers`'s filter: the user id itself, or an email starting with `query`. `null` matches every user. */
export function matchesUserQuery(user: UserRecord, query: string | null): boolean {
  if (query === null) return true;
  return user.userId === query || user.email.startsWith(query);
}
