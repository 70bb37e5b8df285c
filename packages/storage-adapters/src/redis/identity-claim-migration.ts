import { isSameIssuer } from '../internal/issuer-spelling.js';
import type { RedisKeys } from './key-layout.js';
import { pairsOf } from './layout-migration.js';

/** Sends one command to a standalone Redis. */
type Command = (args: string[]) => Promise<unknown>;

const DONE = '11';
const SCAN_COUNT = 1000;

/**
 * Identities are keyed by claim name since this version; `sub` identities keep their field. The
 * identities a registration made under another claim (Entra's `oid`) before it are moved to the
 * field that names the claim, so their users are found again and a `sub` of the same value is
 * somebody else. Runs on a standalone database until it has finished once; only two-element
 * fields move, so instances running it together, or a run cut short and repeated, change nothing
 * twice.
 */
export async function rekeyIdentityClaims(command: Command, key: RedisKeys, prefix: string): Promise<void> {
  if ((await command(['GET', key.identityClaims])) === DONE) return;
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}{o:*}:registrations`;
  let cursor = '0';
  do {
    const [next, found] = (await command([
      'SCAN',
      cursor,
      'MATCH',
      pattern,
      'COUNT',
      String(SCAN_COUNT),
    ])) as [string, string[]];
    cursor = next;
    for (const registrationsKey of found) {
      for (const [, json] of pairsOf(await command(['HGETALL', registrationsKey]))) {
        const registration = JSON.parse(json) as { orgId: string; issuer: string; subjectClaim?: string };
        const claim = registration.subjectClaim ?? 'sub';
        if (claim === 'sub') continue;
        const identities = key.org(registration.orgId).identities;
        for (const [field, userId] of pairsOf(await command(['HGETALL', identities]))) {
          const parts = JSON.parse(field) as string[];
          if (parts.length !== 2) continue;
          const [iss = '', sub = ''] = parts;
          if (!isSameIssuer(iss, registration.issuer)) continue;
          await command(['HSET', identities, key.identityField(iss, sub, claim), userId]);
          await command(['HDEL', identities, field]);
        }
      }
    }
  } while (cursor !== '0');
  await command(['SET', key.identityClaims, DONE]);
}
