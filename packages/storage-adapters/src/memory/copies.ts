/**
 * Deep copy of a record, through JSON as the Redis and Keyv stores store them, so a record reads
 * back the same from every store. For the records that hold arrays or objects; the flat ones on
 * the exchange's hot path (users, refresh tokens) take `copyFlat`, as a JSON round trip costs
 * microseconds per record.
 */
export function copy<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

/**
 * Copy of a record whose fields are all strings, numbers, booleans or null: a spread copies it
 * whole, so the caller can change neither the stored record nor the one it got back.
 */
export function copyFlat<T extends object>(record: T): T {
  return { ...record };
}

/**
 * `copyFlat` for a record the store keeps. Its strings are flattened first: an id from
 * `randomUUID()` is a tree of concatenated pieces that costs several hundred bytes of heap while it
 * lives (about 1 kB against 0.2 kB per refresh-token record), and refresh-token records live for
 * their whole lifetime. V8 flattens such a string in place as soon as a character is read by index.
 */
export function copyFlatToKeep<T extends object>(record: T): T {
  const kept = { ...record };
  for (const value of Object.values(kept)) if (typeof value === 'string') value.charCodeAt(0);
  return kept;
}
