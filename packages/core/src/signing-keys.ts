import { randomBytes } from 'node:crypto';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { epochSeconds } from './internal/clock.js';
import type { SigningKeyRecord, Store } from './store.js';

/** Algorithms the service can sign its access tokens with. */
export type AccessTokenAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

export const REFRESH_TOKEN_ALGORITHM = 'HS256';
// 256-bit HMAC key: RFC 7518 §3.2 asks for a key at least as long as the hash output.
const REFRESH_SECRET_BYTES = 32;
const PRIVATE_JWK_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

export interface SigningKeysOptions {
  store: Store;
  accessTokenAlgorithm: AccessTokenAlgorithm;
  /** Host-supplied access-token private key (JWK object or PKCS#8 PEM) instead of a stored one. */
  accessTokenKey?: JWK | string;
  /** Host-supplied refresh-token HMAC secret (at least 32 bytes) instead of a stored one. */
  refreshTokenSecret?: string;
  /** How often keys are reloaded from the store, to pick up rotations made by other instances. */
  reloadIntervalSeconds: number;
}

export interface LoadedKeys {
  access: { kid: string; alg: string; key: Awaited<ReturnType<typeof importJWK>> };
  refresh: { kid: string; secret: Uint8Array };
  /** Public keys that verify this service's access tokens, as served at `/.well-known/jwks.json`. */
  publicJwks: JSONWebKeySet;
  verifyAccessTokenKey: JWTVerifyGetKey;
  refreshSecretsByKid: ReadonlyMap<string, Uint8Array>;
}

export interface SigningKeys {
  /** Keys, loaded from the store (creating them on first use) or from host options. */
  load(): Promise<LoadedKeys>;
}

/**
 * The service's own keys. When the host supplies none, the first instance to start on an empty
 * store generates them and every other instance adopts the same ones, so a token minted by any
 * instance verifies on all of them.
 */
export function createSigningKeys(options: SigningKeysOptions): SigningKeys {
  const cache = new LRUCache<'keys', LoadedKeys>({
    max: 1,
    ttl: options.reloadIntervalSeconds * 1000,
    // Serve the previous keys while a reload is in flight or after it failed: a store hiccup must
    // not stop token signing that needs no store write.
    allowStale: true,
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
    fetchMethod: () => loadKeys(options),
  });

  return {
    async load() {
      const keys = await cache.fetch('keys');
      if (!keys) throw new Error('signing keys could not be loaded');
      return keys;
    },
  };
}

async function loadKeys(options: SigningKeysOptions): Promise<LoadedKeys> {
  const accessRecords = options.accessTokenKey
    ? [await recordFromHostKey(options.accessTokenKey, options.accessTokenAlgorithm)]
    : await storedKeys(options.store, 'access_token', () => generateAccessKey(options.accessTokenAlgorithm));
  const refreshRecords = options.refreshTokenSecret
    ? [await recordFromHostSecret(options.refreshTokenSecret)]
    : await storedKeys(options.store, 'refresh_token', generateRefreshSecret);

  const current = accessRecords[0] as SigningKeyRecord;
  const publicJwks: JSONWebKeySet = { keys: accessRecords.map(publicJwkOf) };
  const refreshSecretsByKid = new Map(
    refreshRecords.map((record) => [record.kid, Buffer.from(record.privateJwk.k as string, 'base64url')]),
  );
  const currentRefresh = refreshRecords[0] as SigningKeyRecord;
  return {
    access: { kid: current.kid, alg: current.alg, key: await importJWK(current.privateJwk, current.alg) },
    refresh: { kid: currentRefresh.kid, secret: refreshSecretsByKid.get(currentRefresh.kid) as Uint8Array },
    publicJwks,
    verifyAccessTokenKey: createLocalJWKSet(publicJwks),
    refreshSecretsByKid,
  };
}

async function storedKeys(
  store: Store,
  use: SigningKeyRecord['use'],
  generate: () => Promise<SigningKeyRecord>,
): Promise<SigningKeyRecord[]> {
  const existing = await store.listSigningKeys(use);
  if (existing.length > 0) return existing;
  await store.ensureSigningKey(await generate());
  return store.listSigningKeys(use);
}

async function generateAccessKey(alg: AccessTokenAlgorithm): Promise<SigningKeyRecord> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  return accessRecord(await exportJWK(privateKey), alg);
}

async function recordFromHostKey(key: JWK | string, alg: AccessTokenAlgorithm): Promise<SigningKeyRecord> {
  const jwk =
    typeof key === 'string' ? await exportJWK(await importPKCS8(key, alg, { extractable: true })) : key;
  return accessRecord(jwk, alg);
}

async function accessRecord(privateJwk: JWK, alg: string): Promise<SigningKeyRecord> {
  const kid = privateJwk.kid ?? (await calculateJwkThumbprint(privateJwk));
  return {
    kid,
    use: 'access_token',
    alg,
    privateJwk: { ...privateJwk, kid, alg },
    createdAt: epochSeconds(),
  };
}

async function generateRefreshSecret(): Promise<SigningKeyRecord> {
  return refreshRecord(randomBytes(REFRESH_SECRET_BYTES));
}

async function recordFromHostSecret(secret: string): Promise<SigningKeyRecord> {
  return refreshRecord(Buffer.from(secret, 'utf8'));
}

async function refreshRecord(secret: Buffer): Promise<SigningKeyRecord> {
  const privateJwk: JWK = { kty: 'oct', k: secret.toString('base64url') };
  const kid = await calculateJwkThumbprint(privateJwk);
  return { kid, use: 'refresh_token', alg: REFRESH_TOKEN_ALGORITHM, privateJwk, createdAt: epochSeconds() };
}

function publicJwkOf(record: SigningKeyRecord): JWK {
  const publicMembers = Object.entries(record.privateJwk).filter(([name]) => !PRIVATE_JWK_MEMBERS.has(name));
  return { ...Object.fromEntries(publicMembers), kid: record.kid, alg: record.alg, use: 'sig' };
}
