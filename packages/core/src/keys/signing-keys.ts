import { createSecretKey, type KeyObject, randomBytes, webcrypto } from 'node:crypto';
import {
  type CryptoKey,
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
import { epochSeconds } from '../internal/clock.js';
import type { SigningKeyRecord, SigningKeyUse, Store } from '../store/store.js';

/** Algorithms the service can sign its access tokens with. */
export type AccessTokenAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

export const REFRESH_TOKEN_ALGORITHM = 'HS256';
// 256-bit HMAC key: RFC 7518 §3.2 asks for a key at least as long as the hash output.
const REFRESH_SECRET_BYTES = 32;
const PRIVATE_JWK_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/** One key or several: the first signs, the others only verify (host-driven rotation). */
export type HostKeys<T> = T | T[];

export interface SigningKeysOptions {
  store: Store;
  accessTokenAlgorithm: AccessTokenAlgorithm;
  /** Host-supplied access-token private keys (JWK or PKCS#8 PEM) instead of stored ones. */
  accessTokenKey?: HostKeys<JWK | string>;
  /** Host-supplied refresh-token HMAC secrets (at least 32 bytes) instead of stored ones. */
  refreshTokenSecret?: HostKeys<string>;
  /** How often keys are reloaded from the store, to pick up rotations made by other instances. */
  reloadIntervalSeconds: number;
  /**
   * How long a rotated-in key is published before it signs, so every instance and every resource
   * server's JWKS cache can know it before the first token signed with it arrives.
   */
  prepublishSeconds: number;
  /** How long retired keys stay verifiable: the lifetime of the tokens they signed, plus leeway. */
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  clockToleranceSeconds: number;
  /** Told how each (re)load of the keys from the store or the options ended, for metrics. */
  onLoad?: (outcome: 'success' | 'failure') => void;
}

export interface LoadedKeys {
  access: { kid: string; alg: string; key: Awaited<ReturnType<typeof importJWK>> };
  /** Signs refresh tokens in-thread (internal/hs256.ts); `refreshSecretsByKid` verifies them with jose. */
  refresh: { kid: string; secret: KeyObject };
  /** Public keys that verify this service's access tokens, as served at `/.well-known/jwks.json`. */
  publicJwks: JSONWebKeySet;
  verifyAccessTokenKey: JWTVerifyGetKey;
  /** Every refresh secret that may still verify a live refresh token, by kid. */
  refreshSecretsByKid: ReadonlyMap<string, CryptoKey>;
}

export interface RotatedKey {
  use: SigningKeyUse;
  kid: string;
  /** When the new key starts signing (epoch seconds); until then it is only published. */
  activatesAt: number;
}

/**
 * Where a signing key stands, for operators: never its private material.
 * - `next`: published in the JWKS, signing from `activatesAt` (pre-publication);
 * - `active`: signs new tokens;
 * - `retired`: replaced, still verifies the tokens it signed until `verifiesUntil`;
 * - `expired`: replaced long enough ago that nothing it signed is still valid.
 */
export interface SigningKeyStatus {
  kid: string;
  use: SigningKeyUse;
  alg: string;
  /** `store`: generated and rotated by the service; `host`: supplied through options, rotated there. */
  source: 'store' | 'host';
  state: 'next' | 'active' | 'retired' | 'expired';
  /** Epoch seconds; host keys carry the time they were loaded. */
  createdAt: number;
  /** When it starts (or started) signing; `null` for host keys, which sign in the order given. */
  activatesAt: number | null;
  /** When the key after it took over; `null` while it is next or active, and for host keys. */
  retiredAt: number | null;
  /** Until when it verifies tokens; `null` while it is next or active, and for host keys. */
  verifiesUntil: number | null;
}

export interface SigningKeys {
  /**
   * Keys, loaded from the store (creating them on first use) or from host options. Keys older than
   * the reload interval, or past the activation of a pre-published key, are reloaded before use;
   * when that reload fails the previous keys are served, and with none loaded yet the store's
   * error (a StoreUnavailableError during an outage) propagates.
   */
  load(): Promise<LoadedKeys>;
  /**
   * Keys that know `kid` for `use` if any can: when the loaded keys do not, they are reloaded from
   * the store once (shared by concurrent callers, at most once per `unknownKidReloadMs`) so a
   * key rotated in by another instance verifies here before the next periodic reload.
   */
  loadKnowing(use: SigningKeyUse, kid: string | undefined): Promise<LoadedKeys>;
  /**
   * Adds a new key for `use` to the store. It is published at once, signs after the prepublish
   * delay, and the key it replaces keeps verifying until every token it signed has expired.
   * @throws TypeError when the host supplies that kind of key itself
   */
  rotate(use: SigningKeyUse): Promise<RotatedKey>;
  /**
   * Every key of both uses, as the schedule that signs and verifies with them sees it now: stored
   * keys newest first (never created by this call), or the host's in the order given.
   */
  list(): Promise<SigningKeyStatus[]>;
}

// An unknown kid costs one store read at most this often: forged kids cannot turn into a read per request.
const UNKNOWN_KID_RELOAD_INTERVAL_MS = 1000;
// After a failed reload, the previous keys are served this long before the store is asked again.
const RELOAD_FAILURE_BACKOFF_MS = 1000;

/**
 * The service's own keys. When the host supplies none, the first instance to start on an empty
 * store generates them and every other instance adopts the same ones, so a token minted by any
 * instance verifies on all of them.
 */
export function createSigningKeys(options: SigningKeysOptions): SigningKeys {
  let current: { keys: LoadedKeys; expiresAtMs: number } | undefined;
  let pending: Promise<LoadedKeys> | undefined;
  let failedAtMs = Number.NEGATIVE_INFINITY;
  let lastUnknownKidReloadAtMs = Number.NEGATIVE_INFINITY;

  function reload(): Promise<LoadedKeys> {
    pending ??= loadKeys(options)
      .then(
        ({ keys, nextActivationAt }) => {
          options.onLoad?.('success');
          const reloadAtMs = Date.now() + options.reloadIntervalSeconds * 1000;
          current = {
            keys,
            // A pre-published key starts signing at its activation time on every instance, not
            // at the next periodic reload after it.
            expiresAtMs: Math.min(reloadAtMs, nextActivationAt * 1000),
          };
          return keys;
        },
        (error: unknown) => {
          options.onLoad?.('failure');
          failedAtMs = Date.now();
          throw error;
        },
      )
      .finally(() => {
        pending = undefined;
      });
    return pending;
  }

  async function load(): Promise<LoadedKeys> {
    const now = Date.now();
    if (current && now < current.expiresAtMs) return current.keys;
    // A store hiccup must not stop token signing that needs no store write: serve the previous
    // keys when the reload fails, and do not ask again on every request meanwhile.
    if (current && now - failedAtMs < RELOAD_FAILURE_BACKOFF_MS) return current.keys;
    const previous = current?.keys;
    try {
      return await reload();
    } catch (error) {
      if (previous) return previous;
      throw error;
    }
  }

  return {
    load,

    async loadKnowing(use, kid) {
      const keys = await load();
      if (kid === undefined || knows(keys, use, kid)) return keys;
      if (!pending) {
        if (Date.now() - lastUnknownKidReloadAtMs < UNKNOWN_KID_RELOAD_INTERVAL_MS) return keys;
        lastUnknownKidReloadAtMs = Date.now();
      }
      // A failed reload leaves the token to be refused with the keys at hand.
      return reload().catch(() => keys);
    },

    async list() {
      const now = epochSeconds();
      const statusesOf = async (use: SigningKeyUse): Promise<SigningKeyStatus[]> => {
        const hostKeys =
          use === 'access_token'
            ? options.accessTokenKey &&
              (await Promise.all(
                asArray(options.accessTokenKey).map((key) =>
                  recordFromHostKey(key, options.accessTokenAlgorithm),
                ),
              ))
            : options.refreshTokenSecret &&
              (await Promise.all(asArray(options.refreshTokenSecret).map(recordFromHostSecret)));
        if (hostKeys) return hostKeys.map((record, index) => hostKeyStatus(record, index));
        const ttlSeconds =
          use === 'access_token' ? options.accessTokenTtlSeconds : options.refreshTokenTtlSeconds;
        return keyStatuses(
          await options.store.listSigningKeys(use),
          now,
          options.prepublishSeconds,
          ttlSeconds + options.clockToleranceSeconds,
        );
      };
      return [...(await statusesOf('access_token')), ...(await statusesOf('refresh_token'))];
    },

    async rotate(use) {
      if (use === 'access_token' ? options.accessTokenKey : options.refreshTokenSecret) {
        throw new TypeError(`rotateSigningKey: ${use} keys are supplied by the host; rotate them there`);
      }
      const generated =
        use === 'access_token'
          ? await generateAccessKey(options.accessTokenAlgorithm)
          : await generateRefreshSecret();
      // Keys are ordered by createdAt alone, so the new key must be strictly the newest.
      const [newest] = await options.store.listSigningKeys(use);
      const record = { ...generated, createdAt: Math.max(generated.createdAt, (newest?.createdAt ?? 0) + 1) };
      await options.store.addSigningKey(record);
      current = undefined;
      return { use, kid: record.kid, activatesAt: record.createdAt + options.prepublishSeconds };
    },
  };
}

function knows(keys: LoadedKeys, use: SigningKeyUse, kid: string): boolean {
  return use === 'refresh_token'
    ? keys.refreshSecretsByKid.has(kid)
    : keys.publicJwks.keys.some((key) => key.kid === kid);
}

async function loadKeys(
  options: SigningKeysOptions,
): Promise<{ keys: LoadedKeys; nextActivationAt: number }> {
  const now = epochSeconds();
  const access = options.accessTokenKey
    ? hostKeySchedule(
        await Promise.all(
          asArray(options.accessTokenKey).map((key) => recordFromHostKey(key, options.accessTokenAlgorithm)),
        ),
      )
    : keySchedule(
        await storedKeys(options.store, 'access_token', () =>
          generateAccessKey(options.accessTokenAlgorithm),
        ),
        now,
        options.prepublishSeconds,
        options.accessTokenTtlSeconds + options.clockToleranceSeconds,
      );
  const refresh = options.refreshTokenSecret
    ? hostKeySchedule(await Promise.all(asArray(options.refreshTokenSecret).map(recordFromHostSecret)))
    : keySchedule(
        await storedKeys(options.store, 'refresh_token', generateRefreshSecret),
        now,
        options.prepublishSeconds,
        options.refreshTokenTtlSeconds + options.clockToleranceSeconds,
      );

  const publicJwks: JSONWebKeySet = { keys: access.verifying.map(publicJwkOf) };
  // Imported once: jose would otherwise import a raw secret on every verification.
  const refreshSecretsByKid = new Map(
    await Promise.all(
      refresh.verifying.map(async (record) => [record.kid, await hmacKeyOf(record)] as const),
    ),
  );
  const keys: LoadedKeys = {
    access: {
      kid: access.signing.kid,
      alg: access.signing.alg,
      key: await importJWK(access.signing.privateJwk, access.signing.alg),
    },
    refresh: { kid: refresh.signing.kid, secret: createSecretKey(rawSecretOf(refresh.signing)) },
    publicJwks,
    verifyAccessTokenKey: createLocalJWKSet(publicJwks),
    refreshSecretsByKid,
  };
  const nextActivationAt = Math.min(access.nextActivationAt, refresh.nextActivationAt);
  return { keys, nextActivationAt };
}

interface KeySchedule {
  signing: SigningKeyRecord;
  /** Keys whose signatures are accepted: the signing key, pre-published ones, and retired ones still in use. */
  verifying: SigningKeyRecord[];
  /** When the next pre-published key starts signing (epoch seconds), or Infinity. */
  nextActivationAt: number;
}

/**
 * Picks the signing key among stored ones (newest first): the newest whose prepublish delay has
 * passed, or the oldest when none has (the very first key signs at once). A key retires when its
 * successor activates and stays verifiable for `retiredLifetimeSeconds` after that.
 */
export function keySchedule(
  newestFirst: SigningKeyRecord[],
  now: number,
  prepublishSeconds: number,
  retiredLifetimeSeconds: number,
): KeySchedule {
  const index = signingIndexOf(newestFirst, now, prepublishSeconds);
  const verifying = newestFirst.filter(
    (_, i) => i <= index || retiredAt(newestFirst, i, prepublishSeconds) + retiredLifetimeSeconds > now,
  );
  const nextActivationAt = Math.min(
    ...newestFirst.slice(0, index).map((record) => record.createdAt + prepublishSeconds),
  );
  return { signing: newestFirst[index] as SigningKeyRecord, verifying, nextActivationAt };
}

function signingIndexOf(newestFirst: SigningKeyRecord[], now: number, prepublishSeconds: number): number {
  const signingIndex = newestFirst.findIndex((record) => record.createdAt + prepublishSeconds <= now);
  return signingIndex === -1 ? newestFirst.length - 1 : signingIndex;
}

/** A replaced key retires when the key after it (newer) starts signing. */
function retiredAt(newestFirst: SigningKeyRecord[], index: number, prepublishSeconds: number): number {
  return (newestFirst[index - 1] as SigningKeyRecord).createdAt + prepublishSeconds;
}

/** `keySchedule`'s view of each stored key, for `SigningKeys.list`. */
export function keyStatuses(
  newestFirst: SigningKeyRecord[],
  now: number,
  prepublishSeconds: number,
  retiredLifetimeSeconds: number,
): SigningKeyStatus[] {
  const { signing, verifying } = keySchedule(newestFirst, now, prepublishSeconds, retiredLifetimeSeconds);
  const signingIndex = newestFirst.indexOf(signing);
  return newestFirst.map((record, index) => {
    const isReplaced = index > signingIndex;
    const retired = isReplaced ? retiredAt(newestFirst, index, prepublishSeconds) : null;
    return {
      kid: record.kid,
      use: record.use,
      alg: record.alg,
      source: 'store',
      state:
        index < signingIndex
          ? 'next'
          : index === signingIndex
            ? 'active'
            : verifying.includes(record)
              ? 'retired'
              : 'expired',
      createdAt: record.createdAt,
      // The very first key signs at once, whatever the pre-publication delay.
      activatesAt: index === newestFirst.length - 1 ? record.createdAt : record.createdAt + prepublishSeconds,
      retiredAt: retired,
      verifiesUntil: retired === null ? null : retired + retiredLifetimeSeconds,
    };
  });
}

function hostKeyStatus(record: SigningKeyRecord, index: number): SigningKeyStatus {
  return {
    kid: record.kid,
    use: record.use,
    alg: record.alg,
    source: 'host',
    state: index === 0 ? 'active' : 'retired',
    createdAt: record.createdAt,
    activatesAt: null,
    retiredAt: null,
    verifiesUntil: null,
  };
}

function hostKeySchedule(records: SigningKeyRecord[]): KeySchedule {
  return { signing: records[0] as SigningKeyRecord, verifying: records, nextActivationAt: Infinity };
}

async function storedKeys(
  store: Store,
  use: SigningKeyUse,
  generate: () => Promise<SigningKeyRecord>,
): Promise<SigningKeyRecord[]> {
  const existing = await store.listSigningKeys(use);
  if (existing.length > 0) return existing;
  await store.ensureSigningKey(await generate());
  return store.listSigningKeys(use);
}

function asArray<T>(value: HostKeys<T>): T[] {
  return Array.isArray(value) ? value : [value];
}

function rawSecretOf(record: SigningKeyRecord): Buffer {
  return Buffer.from(record.privateJwk.k as string, 'base64url');
}

function hmacKeyOf(record: SigningKeyRecord): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('raw', rawSecretOf(record), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'verify',
  ]) as Promise<CryptoKey>;
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
