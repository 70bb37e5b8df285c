import { z } from 'zod';
import { RialtoError } from '../errors.js';
import { validateInput } from '../internal/validate-input.js';
import type { ListingPosition } from '../store/store.js';

/** One page of a listing, and the cursor of the next one (`null` on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** What a caller asks of a paged listing; every field is optional. */
export interface PageRequest {
  /** Narrows the listing; what it matches is the listing's own (see each one). Blank means none. */
  query?: string;
  /** `nextCursor` of the previous page; leave it out for the first page. */
  cursor?: string;
  /** Records per page, 1 to 200. @default 50 */
  limit?: number;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;
// Far above any org name or email; bounds the work a search may ask of the store.
const MAX_QUERY_LENGTH = 320;
const MAX_CURSOR_LENGTH = 256;

/** A page request as the routes read it from the query string, and host code passes it. */
export const pageRequestSchema = z.strictObject({
  query: z
    .string({ error: 'must be a string' })
    .max(MAX_QUERY_LENGTH, { error: `must be at most ${MAX_QUERY_LENGTH} characters` })
    .optional(),
  cursor: z
    .string({ error: 'must be a string' })
    .max(MAX_CURSOR_LENGTH, { error: 'is not a cursor this service issued' })
    .optional(),
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(MAX_PAGE_SIZE, { error: `must be at most ${MAX_PAGE_SIZE}` })
    .optional(),
});

/** A validated request, ready for the store: the query trimmed (`null` when blank), the cursor decoded. */
export interface StorePageRequest {
  query: string | null;
  after: ListingPosition | null;
  limit: number;
}

/**
 * Validates a page request, as the listing routes do.
 * @throws RialtoError `invalid_request` naming the field (a cursor this service did not issue included)
 */
export function readPageRequest(request: PageRequest = {}): StorePageRequest {
  const { query, cursor, limit } = validateInput(pageRequestSchema, request);
  const trimmed = query?.trim() ?? '';
  return {
    query: trimmed === '' ? null : trimmed,
    after: cursor === undefined || cursor === '' ? null : decodeCursor(cursor),
    limit: limit ?? DEFAULT_PAGE_SIZE,
  };
}

/**
 * Reads one page: asks `list` for one record more than the page, so the cursor is `null` exactly
 * when no record follows.
 */
export async function readPage<T>(
  request: StorePageRequest,
  list: (limit: number) => Promise<T[]>,
  positionOf: (record: T) => ListingPosition,
): Promise<Page<T>> {
  const found = await list(request.limit + 1);
  const items = found.slice(0, request.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: found.length > request.limit && last !== undefined ? encodeCursor(positionOf(last)) : null,
  };
}

// Opaque to callers, so the position it holds may change without breaking them.
function encodeCursor({ createdAt, id }: ListingPosition): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): ListingPosition {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(decoded) &&
      decoded.length === 2 &&
      Number.isSafeInteger(decoded[0]) &&
      typeof decoded[1] === 'string' &&
      decoded[1].length <= 64
    ) {
      return { createdAt: decoded[0], id: decoded[1] };
    }
  } catch {
    // Not base64url JSON: refused below like any other cursor this service did not issue.
  }
  throw new RialtoError('invalid_request', 'cursor: is not a cursor this service issued');
}
