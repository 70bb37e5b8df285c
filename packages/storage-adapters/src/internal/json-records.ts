import { storeKit, type UserRecord } from '@rialto-exchange/core';

/**
 * A user record read back from JSON (Redis, Keyv). Records written before roles existed carry no
 * `role` and read as `member`: no migration pass, and rewriting them is never needed.
 */
export function parseUser(json: string): UserRecord {
  return storeKit.withUserDefaults(JSON.parse(json) as UserRecord);
}
