import type {
  ApiKeyRecord,
  IssuerPolicyRecord,
  IssuerRegistrationConflict,
  IssuerRegistrationRecord,
  OrganizationRecord,
  OrganizationStore,
} from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import type { RedisContext } from './context.js';
import { organizationIndexMember, orgIdOfIndexMember } from './key-layout.js';
import { MAX_OUTBOX_ATTEMPTS } from './outbox.js';
import {
  ADD_API_KEY,
  CLAIM_ISSUER_REGISTRATION,
  CREATE_ORGANIZATION,
  DELETE_ORGANIZATION,
  DROP_ORPHANED_REGISTRATIONS,
  DROP_STALE_ISSUER_CLAIMS,
  LIST_API_KEYS,
  RAISE_ISSUER_SIDE_POLICY,
  READ_ORGANIZATION,
  REGISTRATIONS_ON_ORG_SIDE,
  REPLACE_ORG_SIDE_REGISTRATION,
  REVOKE_API_KEY,
  UPDATE_ORGANIZATION,
} from './scripts.js';

// Each retry of a claim follows dropping at least one leftover entry; leftovers only come from
// crashes and rare races, so this many in a row means something else is wrong.
const MAX_CLAIM_ATTEMPTS = 5;

// Index entries read per round trip while listing: every org of a batch is read at once.
const LIST_BATCH = 100;

const ORGANIZATION_FIELDS = [
  'orgId',
  'name',
  'audience',
  'provisioning',
  'suspendedAt',
  'dpopBoundAccessTokens',
  'endedRegistrations',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof OrganizationRecord)[];

/** An issuer index entry: the stored JSON (what a compare-and-delete compares) and its record. */
interface IndexEntry {
  json: string;
  record: IssuerRegistrationRecord;
}

/**
 * Organizations, their registrations and API keys. An org's own data is one hash slot; the issuer
 * index is global, written after the org's side and removed before it (key-layout.ts).
 */
export function redisOrganizations(context: RedisContext): OrganizationStore {
  const { key, run, send, script, deleteIndexEntries } = context;

  /**
   * The issuer's side of a registration, written after the org's side: answers the conflict (the
   * caller then takes the org's side back) or 'added'. Entries of the issuer's index that lost their
   * org's copy (a crash, or a claim racing deleteOrganization) do not count: a conflict first drops
   * them and claims again, so a leftover never keeps an issuer or its client ids taken.
   */
  async function claimIssuer(
    deadlineAt: number,
    record: IssuerRegistrationRecord,
  ): Promise<'added' | IssuerRegistrationConflict> {
    const issuerKey = key.issuerRegistrations(record.issuer);
    for (let attempts = 1; ; attempts++) {
      const reply = (await script(
        deadlineAt,
        CLAIM_ISSUER_REGISTRATION,
        [issuerKey],
        [record.orgId, record.registrationId, JSON.stringify(record), JSON.stringify(record.clientIds)],
      )) as 'added' | IssuerRegistrationConflict;
      if (reply === 'added' || attempts >= MAX_CLAIM_ATTEMPTS) return reply;
      const { stale } = await checkOrgSides(
        deadlineAt,
        (await send(deadlineAt, ['HVALS', issuerKey])) as string[],
      );
      if (stale.length === 0) return reply;
      await dropStaleClaims(deadlineAt, issuerKey, stale);
    }
  }

  /** Index entries as read, split by whether their org still holds its copy (key-layout.ts). */
  async function checkOrgSides(
    deadlineAt: number,
    jsons: readonly string[],
  ): Promise<{ live: IssuerRegistrationRecord[]; stale: IndexEntry[] }> {
    const byOrg = new Map<string, IndexEntry[]>();
    for (const json of jsons) {
      const record = JSON.parse(json) as IssuerRegistrationRecord;
      const entries = byOrg.get(record.orgId);
      if (entries) entries.push({ json, record });
      else byOrg.set(record.orgId, [{ json, record }]);
    }
    const live: IssuerRegistrationRecord[] = [];
    const stale: IndexEntry[] = [];
    // One call per org: each org's copies live in its own slot.
    await Promise.all(
      [...byOrg].map(async ([orgId, entries]) => {
        const keys = key.org(orgId);
        const found = (await script(
          deadlineAt,
          REGISTRATIONS_ON_ORG_SIDE,
          [keys.organization, keys.registrations],
          entries.map((entry) => entry.record.registrationId),
        )) as number[];
        entries.forEach((entry, index) => {
          if (found[index] === 1) live.push(entry.record);
          else stale.push(entry);
        });
      }),
    );
    return { live, stale };
  }

  /**
   * Drops index entries judged stale, then what a claim racing deleteOrganization wrote back on the
   * side of the deleted org, in the order removeIssuerRegistration uses: the issuer's side first.
   */
  async function dropStaleClaims(
    deadlineAt: number,
    issuerKey: string,
    stale: readonly IndexEntry[],
  ): Promise<void> {
    await script(
      deadlineAt,
      DROP_STALE_ISSUER_CLAIMS,
      [issuerKey],
      stale.flatMap((entry) => [entry.record.registrationId, entry.json]),
    );
    const orgIds = new Set(stale.map((entry) => entry.record.orgId));
    await Promise.all(
      [...orgIds].map((orgId) => {
        const keys = key.org(orgId);
        return script(
          deadlineAt,
          DROP_ORPHANED_REGISTRATIONS,
          [keys.organization, keys.registrations],
          stale.filter((entry) => entry.record.orgId === orgId).map((entry) => entry.record.registrationId),
        );
      }),
    );
  }

  async function listIssuerRegistrations(
    deadlineAt: number,
    orgId: string,
  ): Promise<IssuerRegistrationRecord[]> {
    const records = (await send(deadlineAt, ['HVALS', key.org(orgId).registrations])) as string[];
    return storeKit.sortedBy(
      records.map((json) => JSON.parse(json)),
      storeKit.oldestRegistrationFirst,
    );
  }

  async function removeIssuerRegistration(
    deadlineAt: number,
    orgId: string,
    registrationId: string,
  ): Promise<boolean> {
    const registrations = key.org(orgId).registrations;
    const json = await send(deadlineAt, ['HGET', registrations, registrationId]);
    if (typeof json !== 'string') return false;
    const { issuer } = JSON.parse(json) as IssuerRegistrationRecord;
    // The issuer's side first: from then on no token resolves to the org through it.
    await send(deadlineAt, ['HDEL', key.issuerRegistrations(issuer), registrationId]);
    return (await send(deadlineAt, ['HDEL', registrations, registrationId])) === 1;
  }

  /**
   * The org's copy first, compared and set on the JSON the version was checked on (retried when a
   * concurrent change rewrote it), then the issuer's copy, which token resolution reads, raised
   * only to a newer version. A crash between the two leaves exchanges on the previous policy
   * until the next change; the registration lists with the new one.
   */
  async function replaceIssuerPolicy(
    deadlineAt: number,
    orgId: string,
    registrationId: string,
    policy: IssuerPolicyRecord,
    now: number,
  ): Promise<IssuerRegistrationRecord | 'not_found' | 'version_conflict'> {
    const registrations = key.org(orgId).registrations;
    for (let attempts = 1; ; attempts++) {
      const json = await send(deadlineAt, ['HGET', registrations, registrationId]);
      if (typeof json !== 'string') return 'not_found';
      const current = JSON.parse(json) as IssuerRegistrationRecord;
      if (storeKit.policyOf(current).version !== policy.version - 1) return 'version_conflict';
      const updated: IssuerRegistrationRecord = { ...current, policy, updatedAt: now };
      const updatedJson = JSON.stringify(updated);
      const replaced = await script(
        deadlineAt,
        REPLACE_ORG_SIDE_REGISTRATION,
        [registrations],
        [registrationId, json, updatedJson],
      );
      if (replaced !== 1) {
        if (attempts >= MAX_CLAIM_ATTEMPTS) return 'version_conflict';
        continue;
      }
      await script(
        deadlineAt,
        RAISE_ISSUER_SIDE_POLICY,
        [key.issuerRegistrations(current.issuer)],
        [registrationId, updatedJson, String(policy.version)],
      );
      return updated;
    }
  }

  async function deleteOrganization(deadlineAt: number, orgId: string): Promise<boolean> {
    // Its issuer registrations first, the issuer's side of each before the org's: from then on
    // no token resolves to the org.
    for (const registration of await listIssuerRegistrations(deadlineAt, orgId)) {
      await removeIssuerRegistration(deadlineAt, orgId, registration.registrationId);
    }
    const keys = key.org(orgId);
    const createdAt = await send(deadlineAt, ['HGET', keys.organization, 'createdAt']);
    for (let attempts = 1; ; attempts++) {
      const subscriptionIds = (await send(deadlineAt, ['HKEYS', keys.subscriptions])) as string[];
      const reply = (await script(
        deadlineAt,
        DELETE_ORGANIZATION,
        [
          keys.organization,
          keys.apiKeys,
          keys.revokedApiKeys,
          keys.registrations,
          keys.users,
          keys.identities,
          keys.emails,
          keys.subscriptions,
          keys.subscriptionsVersion,
          keys.deliveries,
          keys.dueDeliveries,
          keys.deliveryLeases,
          keys.finishedDeliveries,
          ...subscriptionIds.map((id) => keys.subscriptionDeliveries(id)),
        ],
        subscriptionIds,
      )) as ['retry'] | [number, string[], string[]];
      if (reply[0] === 'retry') {
        if (attempts >= MAX_OUTBOX_ATTEMPTS) {
          throw new Error('redisStore: subscriptions kept changing while deleting an organization');
        }
        continue;
      }
      const [existed, userIds, deliveryIds] = reply;
      // Global index entries after the org: each left behind names data that no longer exists.
      await deleteIndexEntries(deadlineAt, [
        ...userIds.map((id) => key.userOrg(id)),
        ...deliveryIds.map((id) => key.deliveryOrg(id)),
      ]);
      await send(deadlineAt, ['ZREM', key.dueOrgs, orgId]);
      if (typeof createdAt === 'string') {
        await send(deadlineAt, [
          'ZREM',
          key.orgIndex,
          organizationIndexMember(Number(JSON.parse(createdAt)), orgId),
        ]);
      }
      return existed === 1;
    }
  }

  return {
    createOrganization: (org, firstKey, firstIssuer) =>
      run(async (deadlineAt) => {
        const keys = key.org(org.orgId);
        const indexMember = organizationIndexMember(org.createdAt, org.orgId);
        // The index entry before the org: cut short, it names no org and reads as absent.
        await send(deadlineAt, ['ZADD', key.orgIndex, '0', indexMember]);
        await script(
          deadlineAt,
          CREATE_ORGANIZATION,
          [keys.organization, keys.apiKeys, keys.revokedApiKeys, keys.registrations],
          [
            ...apiKeyArgs(firstKey),
            firstIssuer.registrationId,
            JSON.stringify(firstIssuer),
            ...organizationPairs(org),
          ],
        );
        // The org's side first, so a concurrent claimer checking this claim finds its org (key-layout.ts).
        // If this process stops here, the org exists with a registration no token reaches and an API
        // key nobody was shown, but holds no claim: a retry with the same issuer succeeds.
        const claim = await claimIssuer(deadlineAt, firstIssuer);
        if (claim === 'added') return 'created';
        await send(deadlineAt, [
          'DEL',
          keys.organization,
          keys.apiKeys,
          keys.revokedApiKeys,
          keys.registrations,
        ]);
        await send(deadlineAt, ['ZREM', key.orgIndex, indexMember]);
        return claim === 'duplicate' ? 'issuer_taken' : claim;
      }),

    getOrganization: (orgId) =>
      run(async (deadlineAt) =>
        organizationFromPairs(await script(deadlineAt, READ_ORGANIZATION, [key.org(orgId).organization], [])),
      ),

    listOrganizations: ({ query, after, limit }) =>
      run(async (deadlineAt) => {
        const found: OrganizationRecord[] = [];
        const batch = Math.max(limit, LIST_BATCH);
        let before = after === null ? '+' : `(${organizationIndexMember(after.createdAt, after.id)}`;
        while (found.length < limit) {
          const members = (await send(deadlineAt, [
            'ZREVRANGEBYLEX',
            key.orgIndex,
            before,
            '-',
            'LIMIT',
            '0',
            String(batch),
          ])) as string[];
          const orgs = await Promise.all(
            members.map(async (member) =>
              organizationFromPairs(
                await script(
                  deadlineAt,
                  READ_ORGANIZATION,
                  [key.org(orgIdOfIndexMember(member)).organization],
                  [],
                ),
              ),
            ),
          );
          // Entries whose org is gone are leftovers of a create or delete cut short.
          for (const org of orgs) if (org && storeKit.matchesOrganizationQuery(org, query)) found.push(org);
          if (members.length < batch) break;
          before = `(${members[members.length - 1]}`;
        }
        return found.slice(0, limit);
      }),

    updateOrganization: (orgId, patch, now) =>
      run(async (deadlineAt) =>
        organizationFromPairs(
          await script(
            deadlineAt,
            UPDATE_ORGANIZATION,
            [key.org(orgId).organization],
            organizationPairs({ ...patch, updatedAt: now }),
          ),
        ),
      ),

    deleteOrganization: (orgId) => run((deadlineAt) => deleteOrganization(deadlineAt, orgId)),

    addIssuerRegistration: (record) =>
      run(async (deadlineAt) => {
        const registrations = key.org(record.orgId).registrations;
        const added = await send(deadlineAt, [
          'HSETNX',
          registrations,
          record.registrationId,
          JSON.stringify(record),
        ]);
        if (added !== 1) return 'duplicate';
        const claim = await claimIssuer(deadlineAt, record);
        if (claim !== 'added') await send(deadlineAt, ['HDEL', registrations, record.registrationId]);
        return claim;
      }),

    listIssuerRegistrations: (orgId) => run((deadlineAt) => listIssuerRegistrations(deadlineAt, orgId)),

    findIssuerRegistrations: (issuer) =>
      run(async (deadlineAt) => {
        const stored = (await send(deadlineAt, ['HVALS', key.issuerRegistrations(issuer)])) as string[];
        if (stored.length === 0) return [];
        // Leftovers read as absent; the next conflicting claim drops them.
        const { live } = await checkOrgSides(deadlineAt, stored);
        return storeKit.sortedBy(live, storeKit.oldestRegistrationFirst);
      }),

    replaceIssuerPolicy: (orgId, registrationId, policy, now) =>
      run((deadlineAt) => replaceIssuerPolicy(deadlineAt, orgId, registrationId, policy, now)),

    removeIssuerRegistration: (orgId, registrationId) =>
      run((deadlineAt) => removeIssuerRegistration(deadlineAt, orgId, registrationId)),

    addApiKey: (record) =>
      run(async (deadlineAt) => {
        const keys = key.org(record.orgId);
        await script(deadlineAt, ADD_API_KEY, [keys.apiKeys, keys.revokedApiKeys], apiKeyArgs(record));
      }),

    listActiveApiKeys: (orgId) =>
      run(async (deadlineAt) => {
        const keys = key.org(orgId);
        const [stored, revoked] = (await script(
          deadlineAt,
          LIST_API_KEYS,
          [keys.apiKeys, keys.revokedApiKeys],
          [],
        )) as [string[], string[]];
        const revokedIds = new Set(revoked);
        return storeKit.sortedBy(
          stored
            .map((json): ApiKeyRecord => ({ ...JSON.parse(json), revokedAt: null }))
            .filter((record) => !revokedIds.has(record.keyId)),
          storeKit.oldestApiKeyFirst,
        );
      }),

    revokeApiKey: (orgId, keyId, now) =>
      run(async (deadlineAt) => {
        const keys = key.org(orgId);
        const reply = await script(
          deadlineAt,
          REVOKE_API_KEY,
          [keys.apiKeys, keys.revokedApiKeys],
          [keyId, String(now)],
        );
        return reply === 1;
      }),
  };
}

function apiKeyArgs(record: ApiKeyRecord): string[] {
  const { revokedAt, ...stored } = record;
  return [record.keyId, JSON.stringify(stored), revokedAt === null ? '' : String(revokedAt)];
}

/** Each field is stored JSON-encoded in its own hash field, so a patch is one HSET of the changed fields. */
function organizationPairs(fields: Partial<OrganizationRecord>): string[] {
  return ORGANIZATION_FIELDS.flatMap((field) =>
    fields[field] === undefined ? [] : [field, JSON.stringify(fields[field])],
  );
}

function organizationFromPairs(reply: unknown): OrganizationRecord | null {
  const pairs = reply as string[];
  if (pairs.length === 0) return null;
  const stored = new Map<string, unknown>();
  for (let index = 0; index < pairs.length; index += 2) {
    stored.set(pairs[index] as string, JSON.parse(pairs[index + 1] as string));
  }
  return storeKit.withOrganizationDefaults(
    Object.fromEntries(
      ORGANIZATION_FIELDS.map((field) => [field, stored.get(field)]),
    ) as unknown as OrganizationRecord,
  );
}
