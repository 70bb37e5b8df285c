import { createHash, hash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { RialtoError } from '../errors.js';
import { epochSeconds } from '../internal/clock.js';
import type { ApiKeyRecord, Store } from '../store/store.js';
import type { RialtoEvents } from '../telemetry/audit-events.js';

const API_KEY_PREFIX = 'rialto_ak_';
// 32 bytes = 256 bits from the CSPRNG: unguessable, so a fast hash is enough to store it.
const API_KEY_RANDOM_BYTES = 32;
const API_KEY_PATTERN =
  /^rialto_ak_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** A newly generated key: `apiKey` is shown to the caller once; only `record` is stored. */
export interface GeneratedApiKey {
  apiKey: string;
  record: ApiKeyRecord;
}

/** Generates `rialto_ak_<org_id>_<random>` and the hash-only record to store. */
export function generateApiKey(orgId: string, now: number): GeneratedApiKey {
  const apiKey = `${API_KEY_PREFIX}${orgId}_${randomBytes(API_KEY_RANDOM_BYTES).toString('base64url')}`;
  return {
    apiKey,
    record: { keyId: randomUUID(), orgId, hash: hashApiKey(apiKey), createdAt: now, revokedAt: null },
  };
}

/** @returns the org id embedded in a well-formed key, otherwise `null`. */
export function parseApiKey(apiKey: string): { orgId: string } | null {
  const match = API_KEY_PATTERN.exec(apiKey);
  return match ? { orgId: match[1] as string } : null;
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

export interface ApiKeysOptions {
  /** How long an org's active key hashes are reused before the store is asked again. */
  cacheTtlSeconds: number;
  maxCachedOrgs: number;
}

export interface ApiKeys {
  /**
   * @returns the org id the key belongs to.
   * @throws RialtoError `missing_api_key` or `invalid_api_key`
   */
  authenticate(headerValue: string | undefined): Promise<string>;
  /** Issues another key for an existing org (rotation). The key is in the result only. */
  issue(orgId: string): Promise<GeneratedApiKey>;
  /**
   * Revokes a key; it stops working on this instance at once and on others within the cache TTL.
   * @returns `false` when the org has no such active key
   */
  revoke(orgId: string, keyId: string): Promise<boolean>;
}

/**
 * API keys of organizations. Authentication takes the org id embedded in the key, loads that
 * org's active key hashes and compares the key's hash with each in constant time, so neither
 * timing nor the store's index leak which bytes matched, and other orgs' keys are never consulted.
 */
export function createApiKeys(store: Store, events: RialtoEvents, options: ApiKeysOptions): ApiKeys {
  const activeHashes = new LRUCache<string, Buffer[]>({
    max: options.maxCachedOrgs,
    ttl: options.cacheTtlSeconds * 1000,
    // Compare against the clock directly instead of arming a timer per lookup.
    ttlResolution: 0,
    fetchMethod: async (orgId) =>
      (await store.listActiveApiKeys(orgId)).map((key) => Buffer.from(key.hash, 'hex')),
  });

  return {
    async authenticate(headerValue) {
      if (headerValue === undefined || headerValue === '') throw new RialtoError('missing_api_key');
      const parsed = parseApiKey(headerValue);
      if (!parsed) throw new RialtoError('invalid_api_key');
      // One-shot hash: no Hash object per request.
      const candidate = hash('sha256', headerValue, 'buffer');
      // A fresh hit is answered from get(): fetch() costs a promise chain per call even on a hit.
      const hashes = activeHashes.get(parsed.orgId) ?? (await activeHashes.fetch(parsed.orgId)) ?? [];
      let matched = false;
      for (const hash of hashes) matched = timingSafeEqual(hash, candidate) || matched;
      if (!matched) throw new RialtoError('invalid_api_key');
      return parsed.orgId;
    },

    async issue(orgId) {
      const generated = generateApiKey(orgId, epochSeconds());
      await store.addApiKey(generated.record);
      activeHashes.delete(orgId);
      events.emit('api_key.created', { orgId, keyId: generated.record.keyId });
      return generated;
    },

    async revoke(orgId, keyId) {
      const revoked = await store.revokeApiKey(orgId, keyId, epochSeconds());
      activeHashes.delete(orgId);
      if (revoked) events.emit('api_key.revoked', { orgId, keyId });
      return revoked;
    },
  };
}
