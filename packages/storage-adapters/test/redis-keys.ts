import { randomUUID } from 'node:crypto';
import type { createClient } from 'redis';

export type RedisAdminClient = ReturnType<typeof createClient>;

/** A key prefix no other test uses. */
export function uniqueKeyPrefix(): string {
  return `rialto-test:${randomUUID()}:`;
}

/** Deletes every key under `prefix`, so a test leaves the shared database as it found it. */
export async function deleteKeys(admin: RedisAdminClient, prefix: string): Promise<void> {
  for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length > 0) await admin.unlink(keys);
  }
}
