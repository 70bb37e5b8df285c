import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import type { ApiKeyRecord, Store } from '../store/store.js';
import { createEvents } from '../telemetry/audit-events.js';
import { createApiKeys, generateApiKey, hashApiKey, parseApiKey } from './api-keys.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Only what the API keys service reads; a counter shows when it goes back to the store. */
function keyStore(records: ApiKeyRecord[]) {
  const calls: string[] = [];
  const store = {
    async listActiveApiKeys(orgId: string) {
      calls.push(orgId);
      return records.filter((record) => record.orgId === orgId && record.revokedAt === null);
    },
    async revokeApiKey(orgId: string, keyId: string, now: number) {
      const record = records.find((candidate) => candidate.orgId === orgId && candidate.keyId === keyId);
      if (!record || record.revokedAt !== null) return false;
      record.revokedAt = now;
      return true;
    },
  } as Pick<Store, 'listActiveApiKeys' | 'revokeApiKey'> as Store;
  return { store, calls };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(RialtoError);
    return (error as RialtoError).code;
  }
}

describe('API keys', () => {
  it('generates rialto_ak_<org_id>_<43 base64url chars> and stores only its SHA-256', () => {
    const orgId = randomUUID();
    const { apiKey, record } = generateApiKey(orgId, 1_700_000_000);
    expect(apiKey).toMatch(new RegExp(`^rialto_ak_${orgId}_[A-Za-z0-9_-]{43}$`));
    expect(record).toEqual({
      keyId: expect.any(String),
      orgId,
      hash: hashApiKey(apiKey),
      createdAt: 1_700_000_000,
      revokedAt: null,
    });
    expect(JSON.stringify(record)).not.toContain(apiKey.slice(-43));
  });

  it('never generates the same key twice', () => {
    const orgId = randomUUID();
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey(orgId, 0).apiKey));
    expect(keys.size).toBe(1000);
  });

  it.each([
    ['', null],
    ['rialto_ak_', null],
    ['rialto_ak_not-a-uuid_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', null],
    [`rialto_ak_${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}_short`, null],
    [`RIALTO_AK_${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}_${'A'.repeat(43)}`, null],
    [
      `rialto_ak_${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}_${'A'.repeat(43)}`,
      { orgId: '00000000-0000-4000-8000-000000000000' },
    ],
  ])('parses %j as %j', (key, expected) => {
    expect(parseApiKey(key)).toEqual(expected);
  });

  it('authenticates an active key and answers with its org id', async () => {
    const orgId = randomUUID();
    const { apiKey, record } = generateApiKey(orgId, 0);
    const { store } = keyStore([record]);
    const apiKeys = createApiKeys(store, createEvents(silent), { cacheTtlSeconds: 5, maxCachedOrgs: 10 });
    await expect(apiKeys.authenticate(apiKey)).resolves.toBe(orgId);
  });

  it('distinguishes a missing key from a wrong one', async () => {
    const { store } = keyStore([]);
    const apiKeys = createApiKeys(store, createEvents(silent), { cacheTtlSeconds: 5, maxCachedOrgs: 10 });
    expect(await codeOf(apiKeys.authenticate(undefined))).toBe('missing_api_key');
    expect(await codeOf(apiKeys.authenticate(''))).toBe('missing_api_key');
    expect(await codeOf(apiKeys.authenticate('garbage'))).toBe('invalid_api_key');
    expect(await codeOf(apiKeys.authenticate(generateApiKey(randomUUID(), 0).apiKey))).toBe(
      'invalid_api_key',
    );
  });

  it("refuses a key whose org id was swapped for another org's", async () => {
    const [victim, attacker] = [randomUUID(), randomUUID()];
    const victimKey = generateApiKey(victim, 0);
    const attackerKey = generateApiKey(attacker, 0);
    const { store } = keyStore([victimKey.record, attackerKey.record]);
    const apiKeys = createApiKeys(store, createEvents(silent), { cacheTtlSeconds: 5, maxCachedOrgs: 10 });
    const forged = attackerKey.apiKey.replace(attacker, victim);
    expect(await codeOf(apiKeys.authenticate(forged))).toBe('invalid_api_key');
  });

  it('asks the store once per org within the cache TTL, and again after a revocation', async () => {
    const orgId = randomUUID();
    const { apiKey, record } = generateApiKey(orgId, 0);
    const { store, calls } = keyStore([record]);
    const apiKeys = createApiKeys(store, createEvents(silent), { cacheTtlSeconds: 5, maxCachedOrgs: 10 });
    await Promise.all(Array.from({ length: 10 }, () => apiKeys.authenticate(apiKey)));
    expect(calls).toEqual([orgId]);
    expect(await apiKeys.revoke(orgId, record.keyId)).toBe(true);
    expect(await apiKeys.revoke(orgId, record.keyId)).toBe(false);
    expect(await codeOf(apiKeys.authenticate(apiKey))).toBe('invalid_api_key');
    expect(calls).toEqual([orgId, orgId]);
  });
});
