import type { ListingPosition } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { type ExpressionBuilder, sql } from 'kysely';
import type { Database } from './schema.js';

/*
 * The paged listings' rules (storeKit's isAfterPosition, matchesOrganizationQuery,
 * matchesUserQuery) as SQL conditions, so the database filters and pages on its indexes.
 */

// `!` escapes LIKE's wildcards: a backslash would need escaping again inside MySQL string literals.
function likeLiteral(text: string): string {
  return text.replace(/[!%_]/g, '!$&');
}

/** `storeKit.isAfterPosition` for organizations: `(created_at, org_id)` before `after`. */
export function organizationAfter(after: ListingPosition) {
  return (eb: ExpressionBuilder<Database, 'organizations'>) =>
    eb.or([
      eb('created_at', '<', after.createdAt),
      eb.and([eb('created_at', '=', after.createdAt), eb('org_id', '<', after.id)]),
    ]);
}

/** `storeKit.isAfterPosition` for users: `(created_at, user_id)` before `after`. */
export function userAfter(after: ListingPosition) {
  return (eb: ExpressionBuilder<Database, 'users'>) =>
    eb.or([
      eb('created_at', '<', after.createdAt),
      eb.and([eb('created_at', '=', after.createdAt), eb('user_id', '<', after.id)]),
    ]);
}

/** `storeKit.matchesOrganizationQuery`: the org id, or a name containing the query. */
export function organizationMatches(query: string) {
  const pattern = `%${likeLiteral(storeKit.asciiLowerCase(query))}%`;
  return (eb: ExpressionBuilder<Database, 'organizations'>) =>
    eb.or([eb('org_id', '=', query), eb(sql`lower(name)`, 'like', sql<string>`${pattern} escape '!'`)]);
}

/** `storeKit.matchesUserQuery`: the user id, or an email starting with the query. */
export function userMatches(query: string) {
  const pattern = `${likeLiteral(query)}%`;
  return (eb: ExpressionBuilder<Database, 'users'>) =>
    eb.or([eb('user_id', '=', query), eb('email', 'like', sql<string>`${pattern} escape '!'`)]);
}
