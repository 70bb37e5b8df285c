import type { UserIdentityRecord } from '@rialto-exchange/core';

/**
 * Reads an identity back from the `[iss, sub]` or `[iss, sub, subjectClaim]` parts its key was
 * built from (`storeKit.identityKey` without the org, or Redis's identity field): `sub`
 * identities are spelled without their claim name.
 */
export function identityFromParts(parts: unknown): UserIdentityRecord {
  const [iss, sub, subjectClaim = 'sub'] = parts as [string, string, string?];
  return { iss, subjectClaim, sub };
}

/** `listIdentities` order: by issuer, then claim name, then value. */
export function inIdentityOrder(identities: UserIdentityRecord[]): UserIdentityRecord[] {
  const byText = (left: string, right: string) => (left < right ? -1 : left > right ? 1 : 0);
  return identities.sort(
    (left, right) =>
      byText(left.iss, right.iss) ||
      byText(left.subjectClaim, right.subjectClaim) ||
      byText(left.sub, right.sub),
  );
}
