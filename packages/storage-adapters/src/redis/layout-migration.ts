import { randomUUID } from 'node:crypto';
import { StoreUnavailableError } from '@rialto-exchange/core';
import { LAYOUT_VERSION, organizationIndexMember, type RedisKeys } from './key-layout.js';

/** Sends one command to a standalone Redis. */
type Command = (args: string[]) => Promise<unknown>;

// How long one instance may hold the migration: far above what moving a large database takes.
const LOCK_MS = 10 * 60_000;
const POLL_MS = 100;
const SCAN_COUNT = 1000;
const CLUSTER_READY_VERSION = '2';

/** Escapes Redis glob characters, so a key prefix matches itself only. */
function globEscape(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}

/** HGETALL's reply as pairs, whether the client speaks RESP2 (flat array) or RESP3 (map). */
export function pairsOf(reply: unknown): [string, string][] {
  if (reply instanceof Map) return [...reply.entries()] as [string, string][];
  if (Array.isArray(reply)) {
    const pairs: [string, string][] = [];
    for (let index = 0; index < reply.length; index += 2) pairs.push([reply[index], reply[index + 1]]);
    return pairs;
  }
  return Object.entries(reply as Record<string, string>);
}

/** ZRANGE … WITHSCORES as [member, score] pairs, in RESP2 (flat) or RESP3 (nested) form. */
function scoredOf(reply: unknown[]): [string, string][] {
  if (reply.length > 0 && Array.isArray(reply[0])) {
    return (reply as [string, unknown][]).map(([member, score]) => [member, String(score)]);
  }
  return pairsOf(reply).map(([member, score]) => [member, String(score)]);
}

/**
 * Moves a standalone database from the first key layout (one key per record, global webhook
 * queues, an org's issuer inside its hash in the oldest data) to the current one (key-layout.ts), once:
 * the first instance to connect takes a lock and moves every key under the prefix, the others
 * wait for the version key. A move cut short (the process stopped) leaves the lock to expire and
 * the next instance moves what is left; each step reads the old key and deletes it last.
 */
export async function migrateLayout(
  command: Command,
  key: RedisKeys,
  prefix: string,
  waitMs: number,
): Promise<void> {
  const lockToken = randomUUID();
  const deadline = Date.now() + Math.max(waitMs, LOCK_MS);
  for (;;) {
    if ((await command(['GET', key.layout])) === LAYOUT_VERSION) return;
    if ((await command(['SET', key.layoutMigrationLock, lockToken, 'NX', 'PX', String(LOCK_MS)])) === 'OK')
      break;
    if (Date.now() > deadline) {
      throw new StoreUnavailableError(
        'Another instance is still moving the Redis data to the new key layout.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  try {
    const version = await command(['GET', key.layout]);
    if (version !== LAYOUT_VERSION) {
      // Version 2 (the cluster-ready layout) only lacks the org index; anything older moves first.
      if (version !== CLUSTER_READY_VERSION) await moveKeys(command, key, prefix);
      await indexOrganizations(command, key, prefix);
      await command(['SET', key.layout, LAYOUT_VERSION]);
    }
  } finally {
    if ((await command(['GET', key.layoutMigrationLock])) === lockToken) {
      await command(['DEL', key.layoutMigrationLock]);
    }
  }
}

/** Adds every organization of the cluster-ready layout to `org-index` (layout 12). */
async function indexOrganizations(command: Command, key: RedisKeys, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = (await command([
      'SCAN',
      cursor,
      'MATCH',
      `${globEscape(prefix)}{o:*}:org`,
      'COUNT',
      String(SCAN_COUNT),
    ])) as [string, string[]];
    cursor = next;
    for (const name of found) {
      const orgId = name.slice(`${prefix}{o:`.length, -'}:org'.length);
      const createdAt = await command(['HGET', name, 'createdAt']);
      if (typeof createdAt !== 'string') continue;
      await command([
        'ZADD',
        key.orgIndex,
        '0',
        organizationIndexMember(Number(JSON.parse(createdAt)), orgId),
      ]);
    }
  } while (cursor !== '0');
}

async function moveKeys(command: Command, key: RedisKeys, prefix: string): Promise<void> {
  const byKind = new Map<string, string[]>();
  let cursor = '0';
  do {
    const [next, found] = (await command([
      'SCAN',
      cursor,
      'MATCH',
      `${globEscape(prefix)}*`,
      'COUNT',
      String(SCAN_COUNT),
    ])) as [string, string[]];
    cursor = next;
    for (const name of found) {
      const rest = name.slice(prefix.length);
      const colon = rest.indexOf(':');
      const kind = colon === -1 ? rest : rest.slice(0, colon);
      const id = colon === -1 ? '' : rest.slice(colon + 1);
      const ids = byKind.get(kind);
      if (ids) ids.push(id);
      else byKind.set(kind, [id]);
    }
  } while (cursor !== '0');
  const ids = (kind: string) => [...new Set(byKind.get(kind) ?? [])];
  const old = (kind: string, id: string) => `${prefix}${kind}:${id}`;
  const hashEntries = async (name: string) => pairsOf(await command(['HGETALL', name]));

  // The oldest organizations kept their one issuer in their hash, indexed by `issuer:<issuer>`.
  for (const orgId of ids('org')) {
    const orgKey = old('org', orgId);
    const fields = (await command([
      'HMGET',
      orgKey,
      'issuer',
      'clientIds',
      'allowedAlgorithms',
      'emailLinking',
      'createdAt',
      'updatedAt',
    ])) as (string | null)[];
    const [issuerJson, clientIds, allowedAlgorithms, emailLinking, createdAt, updatedAt] = fields;
    if (issuerJson) {
      const issuer = JSON.parse(issuerJson) as string;
      const record = {
        registrationId: orgId,
        orgId,
        issuer,
        clientIds: JSON.parse(clientIds ?? '[]'),
        allowedAlgorithms: JSON.parse(allowedAlgorithms ?? '[]'),
        emailLinking: JSON.parse(emailLinking ?? '"never"'),
        subjectClaim: 'sub',
        trustUsernameClaims: false,
        createdAt: JSON.parse(createdAt ?? '0'),
        updatedAt: JSON.parse(updatedAt ?? '0'),
      };
      await command(['HSET', key.issuerRegistrations(issuer), orgId, JSON.stringify(record)]);
      await command(['HSET', key.org(orgId).registrations, orgId, JSON.stringify(record)]);
      await command(['HDEL', orgKey, 'issuer', 'clientIds', 'allowedAlgorithms', 'emailLinking']);
    }
    await command(['RENAME', orgKey, key.org(orgId).organization]);
  }
  for (const issuer of ids('issuer')) await command(['DEL', old('issuer', issuer)]);
  for (const orgId of ids('org-issuers')) {
    for (const [registrationId, issuer] of await hashEntries(old('org-issuers', orgId))) {
      const json = await command(['HGET', key.issuerRegistrations(issuer), registrationId]);
      if (typeof json === 'string')
        await command(['HSET', key.org(orgId).registrations, registrationId, json]);
    }
    await command(['DEL', old('org-issuers', orgId)]);
  }
  const renames: [string, (orgId: string) => string][] = [
    ['api-keys', (orgId) => key.org(orgId).apiKeys],
    ['api-keys-revoked', (orgId) => key.org(orgId).revokedApiKeys],
    ['webhook-subs', (orgId) => key.org(orgId).subscriptions],
    ['webhook-subs-version', (orgId) => key.org(orgId).subscriptionsVersion],
    ['family-revoked', (familyId) => key.family(familyId).revoked],
  ];
  for (const [kind, target] of renames) {
    for (const id of ids(kind)) await command(['RENAME', old(kind, id), target(id)]);
  }

  for (const userId of ids('user')) {
    const json = await command(['GET', old('user', userId)]);
    if (typeof json === 'string') {
      const { orgId } = JSON.parse(json) as { orgId: string };
      await command(['SET', key.userOrg(userId), orgId]);
      await command(['HSET', key.org(orgId).users, userId, json]);
    }
    await command(['DEL', old('user', userId)]);
  }
  for (const entry of ids('identity')) {
    const userId = await command(['GET', old('identity', entry)]);
    const [orgId, iss, sub] = JSON.parse(entry) as [string, string, string];
    if (typeof userId === 'string') {
      await command(['HSET', key.org(orgId).identities, key.identityField(iss, sub), userId]);
    }
    await command(['DEL', old('identity', entry)]);
  }
  for (const entry of ids('email')) {
    const userId = await command(['GET', old('email', entry)]);
    const [orgId, email] = JSON.parse(entry) as [string, string];
    if (typeof userId === 'string') await command(['HSET', key.org(orgId).emails, email, userId]);
    await command(['DEL', old('email', entry)]);
  }

  const orgOfDelivery = new Map<string, string>();
  for (const deliveryId of ids('webhook-delivery')) {
    const json = await command(['GET', old('webhook-delivery', deliveryId)]);
    if (typeof json === 'string') {
      const delivery = JSON.parse(json) as { orgId: string; status: string; updatedAt: number };
      const keys = key.org(delivery.orgId);
      orgOfDelivery.set(deliveryId, delivery.orgId);
      await command(['SET', key.deliveryOrg(deliveryId), delivery.orgId]);
      await command(['HSET', keys.deliveries, deliveryId, json]);
      if (delivery.status !== 'pending') {
        await command(['ZADD', keys.finishedDeliveries, String(delivery.updatedAt), deliveryId]);
      }
    }
    await command(['DEL', old('webhook-delivery', deliveryId)]);
  }
  const oldDue = `${prefix}webhook-due`;
  for (const [deliveryId, score] of scoredOf(
    (await command(['ZRANGE', oldDue, '0', '-1', 'WITHSCORES'])) as unknown[],
  )) {
    const orgId = orgOfDelivery.get(deliveryId);
    if (orgId === undefined) continue;
    await command(['ZADD', key.org(orgId).dueDeliveries, score, deliveryId]);
    const current = await command(['ZSCORE', key.dueOrgs, orgId]);
    if (current === null || Number(current) > Number(score))
      await command(['ZADD', key.dueOrgs, score, orgId]);
  }
  await command(['DEL', oldDue]);
  const oldLeases = `${prefix}webhook-leases`;
  for (const [deliveryId, leaseToken] of await hashEntries(oldLeases)) {
    const orgId = orgOfDelivery.get(deliveryId);
    if (orgId !== undefined) await command(['HSET', key.org(orgId).deliveryLeases, deliveryId, leaseToken]);
  }
  await command(['DEL', oldLeases]);
  for (const subscriptionId of ids('webhook-sub-deliveries')) {
    const list = old('webhook-sub-deliveries', subscriptionId);
    for (const [deliveryId, score] of scoredOf(
      (await command(['ZRANGE', list, '0', '-1', 'WITHSCORES'])) as unknown[],
    )) {
      const orgId = orgOfDelivery.get(deliveryId);
      if (orgId !== undefined) {
        await command(['ZADD', key.org(orgId).subscriptionDeliveries(subscriptionId), score, deliveryId]);
      }
    }
    await command(['DEL', list]);
  }

  // Refresh tokens join their family's hash, which lives as long as its longest-lived token.
  const moveToken = async (jti: string, familyId: string | undefined) => {
    const name = old('refresh', jti);
    const [json, ttl] = [await command(['GET', name]), Number(await command(['TTL', name]))];
    if (typeof json === 'string') {
      const family = familyId ?? (JSON.parse(json) as { familyId?: string }).familyId;
      if (family !== undefined) {
        const tokens = key.family(family).tokens;
        await command(['HSET', tokens, jti, json]);
        if (ttl > 0 && Number(await command(['TTL', tokens])) < ttl) {
          await command(['EXPIRE', tokens, String(ttl)]);
        }
      }
    }
    await command(['DEL', name]);
  };
  const moved = new Set<string>();
  for (const familyId of ids('family')) {
    for (const jti of (await command(['SMEMBERS', old('family', familyId)])) as string[]) {
      await moveToken(jti, familyId);
      moved.add(jti);
    }
    await command(['DEL', old('family', familyId)]);
  }
  for (const jti of ids('refresh')) if (!moved.has(jti)) await moveToken(jti, undefined);
}
