/*
 * The composite keys a store indexes users by. A JSON array cannot be forged by a value that
 * contains the separator (an issuer with a `:`, a subject with a `|`), unlike a joined string.
 * Stores may hash them (SQL) or prefix them (Keyv, Redis) but derive them only here.
 */

/** The identity `(orgId, iss, sub)` a user is linked to. */
export function identityKey(orgId: string, iss: string, sub: string): string {
  return JSON.stringify([orgId, iss, sub]);
}

/** The email of a user, unique within its organization. */
export function emailKey(orgId: string, email: string): string {
  return JSON.stringify([orgId, email]);
}
