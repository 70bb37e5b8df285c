import type { RefreshFamilySummary, RefreshTokenRecord } from '@rialto-exchange/core';

/**
 * `listRefreshFamilies` from the live tokens a store found for one user: one entry per family
 * (its newest token, should a family hold two), newest first, ties by family id descending.
 */
export function refreshFamiliesOf(
  liveTokens: Iterable<Pick<RefreshTokenRecord, 'familyId' | 'issuedAt' | 'expiresAt'>>,
  limit: number,
): RefreshFamilySummary[] {
  const newestByFamily = new Map<string, RefreshFamilySummary>();
  for (const { familyId, issuedAt, expiresAt } of liveTokens) {
    const known = newestByFamily.get(familyId);
    if (!known || issuedAt > known.lastIssuedAt)
      newestByFamily.set(familyId, { familyId, lastIssuedAt: issuedAt, expiresAt });
  }
  return [...newestByFamily.values()]
    .sort(
      (left, right) =>
        right.lastIssuedAt - left.lastIssuedAt ||
        (left.familyId < right.familyId ? 1 : left.familyId > right.familyId ? -1 : 0),
    )
    .slice(0, Math.max(0, limit));
}
