const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Record ids are UUIDs; anything else cannot name a record, so it need not reach the store. */
export function isUuid(value: string | undefined): value is string {
  return value !== undefined && UUID.test(value);
}
