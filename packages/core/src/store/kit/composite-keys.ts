/*
 * The composite keys a store indexes users by. A JSON array cannot be forged by a value that
 * contains the separator (an issuer with a `:`, a subject with a `|`), unlike a joined string.
 * Stores may hash them (SQL) or prefix them (Keyv, Redis) but derive them only here.
 */

/**
 * The identity `(orgId, iss, subjectClaim, sub)` a user is linked to. Identities of the `sub`
 * claim keep the three-element spelling they had before the claim name was part of the key, so
 * they need no migration; any other claim adds its name as a fourth element, which no `sub`
 * identity's key can equal.
 */
export function identityKey(orgId: string, iss: string, sub: string, subjectClaim = 'sub'): string {
  return JSON.stringify(subjectClaim === 'sub' ? [orgId, iss, sub] : [orgId, iss, sub, subjectClaim]);
}

/** The email of a user, unique within its organization. */
export function emailKey(orgId: string, email: string): string {
  return JSON.stringify([orgId, email]);
}
