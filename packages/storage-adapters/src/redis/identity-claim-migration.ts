import { isSameIssuer } from '../internal/issuer-spelling.js';
import { orgIdOfIndexMember, type RedisKeys } from './key-layout.js';
import { pairsOf } from './layout-migration.js';

/** Sends one command; its key is `args[1]`, so a Redis Cluster routes it to the key's slot. */
type Command = (args: string[]) => Promise<unknown>;

const DONE = '11';
const PAGE = 1000;

/**
 * Identities are keyed by claim name since this version; `sub` identities keep their field. The
 * identities a registration made under another claim (Entra's `oid`) before it are moved to the
 * field that names the claim, so their users are found again and a `sub` of the same value is
 * somebody else. Runs until it has finished once, on a standalone database or a Redis Cluster:
 * organizations come from `org-index`, a single key (no cluster-wide SCAN), and each org's
 * registrations and identities share its slot. Only two-element fields move, so instances running
 * it together, or a run cut short and repeated, change nothing twice.
 */
export async function rekeyIdentityClaims(command: Command, key: RedisKeys): Promise<void> {
  if ((await command(['GET', key.identityClaims])) === DONE) return;
  // Paged by member rather than by rank, so orgs created or deleted meanwhile shift no page.
  let after = '-';
  for (;;) {
    const members = (await command([
      'ZRANGEBYLEX',
      key.orgIndex,
      after,
      '+',
      'LIMIT',
      '0',
      String(PAGE),
    ])) as string[];
    for (const member of members) await rekeyOrganization(command, key, orgIdOfIndexMember(member));
    const last = members.at(-1);
    if (last === undefined || members.length < PAGE) break;
    after = `(${last}`;
  }
  await command(['SET', key.identityClaims, DONE]);
}

async function rekeyOrganization(command: Command, key: RedisKeys, orgId: string): Promise<void> {
  const keys = key.org(orgId);
  for (const [, json] of pairsOf(await command(['HGETALL', keys.registrations]))) {
    const registration = JSON.parse(json) as { issuer: string; subjectClaim?: string };
    const claim = registration.subjectClaim ?? 'sub';
    if (claim === 'sub') continue;
    for (const [field, userId] of pairsOf(await command(['HGETALL', keys.identities]))) {
      const parts = JSON.parse(field) as string[];
      if (parts.length !== 2) continue;
      const [iss = '', sub = ''] = parts;
      if (!isSameIssuer(iss, registration.issuer)) continue;
      await command(['HSET', keys.identities, key.identityField(iss, sub, claim), userId]);
      await command(['HDEL', keys.identities, field]);
    }
  }
}
