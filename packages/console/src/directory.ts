import {
  type OrganizationRecord,
  RialtoError,
  type RialtoExchange,
  type UserRecord,
} from '@rialto-exchange/core';

/** One page of organizations, and the cursor of the next (`null` on the last page). */
export interface OrganizationPage {
  organizations: OrganizationRecord[];
  nextCursor: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The organizations matching `query`, a page at a time. The seam to the store's organization
 * search: until the facade lists organizations, only an exact id is found.
 */
export async function findOrganizations(
  exchange: RialtoExchange,
  input: { query: string; cursor: string | undefined; limit: number },
): Promise<OrganizationPage> {
  const query = input.query.trim();
  if (!UUID.test(query)) return { organizations: [], nextCursor: null };
  const org = await exchange.organizations.get(query.toLowerCase());
  return { organizations: org ? [org] : [], nextCursor: null };
}

/** One page of an organization's users, and the cursor of the next (`null` on the last page). */
export interface UserPage {
  users: UserRecord[];
  nextCursor: string | null;
}

/**
 * The organization's users matching `query` (an email or a user id), a page at a time. The seam
 * to the store's user search: until the facade lists users, only an exact id is found.
 */
export async function findUsers(
  exchange: RialtoExchange,
  orgId: string,
  input: { query: string; cursor: string | undefined; limit: number },
): Promise<UserPage> {
  const query = input.query.trim();
  if (!UUID.test(query)) return { users: [], nextCursor: null };
  const user = await exchange.users.get(orgId, query.toLowerCase());
  return { users: user ? [user] : [], nextCursor: null };
}

/**
 * Queues a finished delivery again. The seam to the store's redelivery: until the facade has it,
 * the console says so rather than writing around the facade.
 */
export async function redeliver(
  _exchange: RialtoExchange,
  _orgId: string,
  _webhookId: string,
  _deliveryId: string,
): Promise<void> {
  throw new RialtoError('not_found', 'Redelivery is not available in this version of the exchange.');
}
