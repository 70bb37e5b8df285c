import type {
  ApiKeyRecord,
  OrganizationRecord,
  RefreshTokenRecord,
  SigningKeyRecord,
  SigningKeyUse,
  Store,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { StoreUnavailableError } from '@rialto-exchange/core';
import { withDeadline } from '../internal/deadline.js';
import { newestSigningKeysFirst, oldestKeysFirst } from '../internal/ordering.js';
import {
  byDueTime,
  deliveriesFor,
  isClaimable,
  newestDeliveriesFirst,
  newUser,
  withDefaultRole,
  withOrganizationDefaults,
} from '../internal/outbox.js';
import {
  DELIVERY_RETENTION_SECONDS,
  EXPIRY_MARGIN_SECONDS,
  FAMILY_REVOCATION_MIN_SECONDS,
  secondsToKeep,
} from '../internal/retention.js';

/**
 * The part of a Keyv 5 instance the store uses, so the store's types do not depend on `keyv`.
 *
 * @example
 * const keyv: KeyvLike = new Keyv({ store: new KeyvRedis(url, { throwOnErrors: true }), throwOnErrors: true });
 */
export interface KeyvLike {
  get(key: string): Promise<unknown>;
  /** `ttl` in milliseconds. */
  set(key: string, value: unknown, ttl?: number): Promise<boolean>;
  /** Must resolve `true` only when it removed the key, as Keyv's adapters for Redis and its in-memory Map do. */
  delete(key: string): Promise<boolean>;
  readonly throwOnErrors: boolean;
  readonly store?: unknown;
}

/**
 * Settings of `keyvStore()`.
 *
 * @example
 * keyvStore(keyv, { timeoutMs: 2_000 });
 */
export interface KeyvStoreOptions {
  /**
   * How long any Keyv call may take before the operation fails with `StoreUnavailableError`.
   * @default 5000
   */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * A Store over any Keyv 5 instance (`@keyv/redis`, `@keyv/postgres`, `@keyv/mongo`, ...), for
 * hosts that already run a Keyv backend. Prefer `redisStore()` or `sqlStore()` when several
 * instances share the backend: Keyv offers get, set and delete, but no compare-and-set and no
 * multi-key transaction, so this store cannot give these guarantees under concurrency:
 *
 * - Two `createOrganization` calls racing for one issuer can both succeed.
 * - Racing `addApiKey`/`revokeApiKey`, `updateOrganization`, `setUserRole` or `addSigningKey` calls
 *   on one record each read, modify and write it, so one change can be lost, a key revocation included.
 * - Racing first exchanges of one person (`findOrCreateUser`, same identity or same email) can
 *   create two users.
 * - Instances starting together on an empty backend can each store their own signing key
 *   (`ensureSigningKey`), so tokens minted by one do not verify on another until they reload keys.
 * - Webhook outbox: two workers claiming at once can both take one delivery, so it can be sent
 *   twice; events recorded at the same time can lose one another's place in the due list, and a
 *   user's verification change and its events are separate writes (the user first).
 * - `deleteUser` and `deleteOrganization` find a user's identity links and an org's users through
 *   lists this store keeps since they were added; users and links written before are not found
 *   (links left behind name a missing user, which `findOrCreateUser` treats as absent).
 * - A write interrupted by an outage can leave part of it behind. Writes are ordered so that what
 *   remains is harmless: an organization is reachable by issuer only once its key is stored, and a
 *   user by email only once its identity link is.
 *
 * What it does guarantee: every single-caller behaviour of the Store contract; a refresh token is
 * single-use even under concurrency, as long as the adapter's `delete()` reports whether it removed
 * the key (Keyv's Redis adapter and its in-memory Map do); revoked families stay refused while any
 * of their tokens can live, and their markers expire after that.
 *
 * The Keyv instance must be created with `throwOnErrors: true`, and so must its adapter where it
 * has the option (`@keyv/redis` does): Keyv otherwise reports a backend failure as a missing key,
 * which would let an outage pass for "no such user" and create one. The factory refuses an
 * instance configured that way.
 *
 * @example
 * import { createKeyv } from '@keyv/redis';
 *
 * const keyv = createKeyv(process.env.REDIS_URL, { namespace: 'rialto', throwOnErrors: true });
 * app.use(rialtoExchange({ issuer: 'https://api.example.com', store: keyvStore(keyv) }));
 */
export function keyvStore(keyv: KeyvLike, options: KeyvStoreOptions = {}): Store {
  if (keyv?.throwOnErrors !== true) {
    throw new TypeError('keyvStore: create the Keyv instance with `throwOnErrors: true`');
  }
  if ((keyv.store as { throwOnErrors?: unknown } | undefined)?.throwOnErrors === false) {
    throw new TypeError(
      'keyvStore: create the Keyv adapter with `throwOnErrors: true` (e.g. `new KeyvRedis(url, { throwOnErrors: true })`)',
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new TypeError('keyvStore: `timeoutMs` must be a positive number');

  async function call<T>(pending: Promise<T>): Promise<T> {
    try {
      return await withDeadline(
        pending,
        timeoutMs,
        () => new Error(`Keyv did not answer within ${timeoutMs} ms`),
      );
    } catch (error) {
      throw new StoreUnavailableError('The Keyv backend is unreachable or failed to answer in time.', {
        cause: error,
      });
    }
  }
  const get = <T>(key: string) => call(keyv.get(key)) as Promise<T | undefined>;
  const set = (key: string, value: unknown, ttlSeconds?: number) =>
    call(keyv.set(key, value, ttlSeconds === undefined ? undefined : ttlSeconds * 1000));
  const remove = (key: string) => call(keyv.delete(key));

  const key = {
    organization: (orgId: string) => `org:${orgId}`,
    issuer: (issuer: string) => `issuer:${issuer}`,
    apiKeys: (orgId: string) => `api-keys:${orgId}`,
    user: (userId: string) => `user:${userId}`,
    // JSON arrays keep composite keys unambiguous whatever characters the parts contain.
    identity: (orgId: string, iss: string, sub: string) => `identity:${JSON.stringify([orgId, iss, sub])}`,
    email: (orgId: string, email: string) => `email:${JSON.stringify([orgId, email])}`,
    refreshToken: (jti: string) => `refresh:${jti}`,
    familyExpiry: (familyId: string) => `family-expiry:${familyId}`,
    familyRevoked: (familyId: string) => `family-revoked:${familyId}`,
    signingKeys: (use: SigningKeyUse) => `signing-keys:${use}`,
    subscriptions: (orgId: string) => `webhook-subs:${orgId}`,
    delivery: (deliveryId: string) => `webhook-delivery:${deliveryId}`,
    dueDeliveries: 'webhook-due',
    subscriptionDeliveries: (subscriptionId: string) => `webhook-sub-deliveries:${subscriptionId}`,
    // Keyv cannot enumerate keys: deleteUser and deleteOrganization find a user's links and an
    // org's users through these lists. Users and links written before they existed are not listed.
    userIdentities: (userId: string) => `user-identities:${userId}`,
    orgUsers: (orgId: string) => `org-users:${orgId}`,
  };

  async function addToList(listKey: string, item: string): Promise<void> {
    const listed = (await get<string[]>(listKey)) ?? [];
    if (!listed.includes(item)) await set(listKey, [...listed, item]);
  }

  const subscriptionsOf = async (orgId: string) =>
    (await get<WebhookSubscriptionRecord[]>(key.subscriptions(orgId))) ?? [];

  async function saveDelivery(delivery: WebhookDeliveryRecord): Promise<void> {
    const isFinished = delivery.status !== 'pending';
    await set(
      key.delivery(delivery.deliveryId),
      delivery,
      isFinished ? DELIVERY_RETENTION_SECONDS : undefined,
    );
  }

  async function addDeliveries(deliveries: readonly WebhookDeliveryRecord[]): Promise<void> {
    if (deliveries.length === 0) return;
    for (const delivery of deliveries) await saveDelivery(delivery);
    const due = (await get<string[]>(key.dueDeliveries)) ?? [];
    await set(key.dueDeliveries, [...due, ...deliveries.map((delivery) => delivery.deliveryId)]);
    for (const delivery of deliveries) {
      const listKey = key.subscriptionDeliveries(delivery.subscriptionId);
      const listed = (await get<string[]>(listKey)) ?? [];
      await set(listKey, [...listed, delivery.deliveryId].slice(-MAX_LISTED_DELIVERIES));
    }
  }

  async function enqueue(events: readonly WebhookEventRecord[]): Promise<void> {
    const orgIds = [...new Set(events.map((event) => event.orgId))];
    const byOrg = new Map(
      await Promise.all(orgIds.map(async (orgId) => [orgId, await subscriptionsOf(orgId)] as const)),
    );
    await addDeliveries(deliveriesFor(events, (orgId) => byOrg.get(orgId) ?? []));
  }

  async function readOrganization(orgId: string): Promise<OrganizationRecord | undefined> {
    const org = await get<OrganizationRecord>(key.organization(orgId));
    return org && withOrganizationDefaults(org);
  }

  async function readUser(userId: string): Promise<UserRecord | undefined> {
    const user = await get<UserRecord>(key.user(userId));
    return user && withDefaultRole(user);
  }

  async function removeUser(user: UserRecord): Promise<void> {
    // The user first: links left behind by an interruption name a missing user, which
    // findOrCreateUser treats as no link.
    await remove(key.user(user.userId));
    const emailKey = key.email(user.orgId, user.email);
    if ((await get<string>(emailKey)) === user.userId) await remove(emailKey);
    for (const identityKey of (await get<string[]>(key.userIdentities(user.userId))) ?? []) {
      if ((await get<string>(identityKey)) === user.userId) await remove(identityKey);
    }
    await remove(key.userIdentities(user.userId));
  }

  return {
    async createOrganization(org, firstKey) {
      if ((await get(key.issuer(org.issuer))) !== undefined) return 'issuer_taken';
      await set(key.organization(org.orgId), org);
      await set(key.apiKeys(org.orgId), [firstKey]);
      await set(key.issuer(org.issuer), org.orgId);
      return 'created';
    },

    async getOrganization(orgId) {
      return (await readOrganization(orgId)) ?? null;
    },

    async findOrganizationByIssuer(issuer) {
      const orgId = await get<string>(key.issuer(issuer));
      return orgId === undefined ? null : ((await readOrganization(orgId)) ?? null);
    },

    async updateOrganization(orgId, patch, now) {
      const org = await readOrganization(orgId);
      if (!org) return null;
      const defined = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
      const updated: OrganizationRecord = { ...org, ...defined, updatedAt: now };
      await set(key.organization(orgId), updated);
      return updated;
    },

    async addApiKey(record) {
      const keys = (await get<ApiKeyRecord[]>(key.apiKeys(record.orgId))) ?? [];
      await set(key.apiKeys(record.orgId), [...keys, record]);
    },

    async listActiveApiKeys(orgId) {
      const keys = (await get<ApiKeyRecord[]>(key.apiKeys(orgId))) ?? [];
      return oldestKeysFirst(keys.filter((record) => record.revokedAt === null));
    },

    async revokeApiKey(orgId, keyId, now) {
      const keys = (await get<ApiKeyRecord[]>(key.apiKeys(orgId))) ?? [];
      const target = keys.find((record) => record.keyId === keyId);
      if (!target || target.revokedAt !== null) return false;
      target.revokedAt = now;
      await set(key.apiKeys(orgId), keys);
      return true;
    },

    async findOrCreateUser(input) {
      const identityKey = key.identity(input.orgId, input.iss, input.sub);
      const linkedId = await get<string>(identityKey);
      // A link or email entry naming a deleted user counts as absent.
      const linked = linkedId === undefined ? undefined : await readUser(linkedId);
      if (linked) return { outcome: 'existing', user: linked };

      const sameEmailId = await get<string>(key.email(input.orgId, input.email));
      const sameEmail = sameEmailId === undefined ? undefined : await readUser(sameEmailId);
      if (sameEmail) {
        if (!input.mayLinkByEmail) return { outcome: 'conflict' };
        await set(identityKey, sameEmail.userId);
        await addToList(key.userIdentities(sameEmail.userId), identityKey);
        return { outcome: 'linked', user: sameEmail };
      }
      if (input.mayCreate === false) return { outcome: 'not_provisioned' };

      const user = newUser(input);
      // User, then identity, then email: cut short, a retry of the same identity still finds its
      // user, and nobody else is refused or linked because of a half-created one.
      await set(key.user(user.userId), user);
      await set(identityKey, user.userId);
      await set(key.email(input.orgId, input.email), user.userId);
      await set(key.userIdentities(user.userId), [identityKey]);
      await addToList(key.orgUsers(input.orgId), user.userId);
      await enqueue(input.eventsIfCreated ?? []);
      return { outcome: 'created', user };
    },

    async createUser({ user, events }) {
      const emailKey = key.email(user.orgId, user.email);
      const takenBy = await get<string>(emailKey);
      if (takenBy !== undefined && (await readUser(takenBy))) return 'email_taken';
      await set(key.user(user.userId), user);
      await set(emailKey, user.userId);
      await addToList(key.orgUsers(user.orgId), user.userId);
      await enqueue(events);
      return 'created';
    },

    async deleteUser({ orgId, userId, events }) {
      const user = await readUser(userId);
      if (!user || user.orgId !== orgId) return false;
      await removeUser(user);
      await enqueue(events);
      return true;
    },

    async deleteOrganization(orgId) {
      const org = await readOrganization(orgId);
      // What readers reach the org through goes first.
      if (org && (await get<string>(key.issuer(org.issuer))) === orgId) await remove(key.issuer(org.issuer));
      await remove(key.organization(orgId));
      await remove(key.apiKeys(orgId));
      for (const subscription of await subscriptionsOf(orgId)) {
        const listKey = key.subscriptionDeliveries(subscription.subscriptionId);
        for (const deliveryId of (await get<string[]>(listKey)) ?? []) await remove(key.delivery(deliveryId));
        await remove(listKey);
      }
      await remove(key.subscriptions(orgId));
      for (const userId of (await get<string[]>(key.orgUsers(orgId))) ?? []) {
        const user = await readUser(userId);
        if (user?.orgId === orgId) await removeUser(user);
      }
      await remove(key.orgUsers(orgId));
      return org !== undefined;
    },

    async getUserById(userId) {
      return (await readUser(userId)) ?? null;
    },

    async updateUserVerification(input) {
      const user = await readUser(input.userId);
      if (!user || user.orgId !== input.orgId) return { outcome: 'not_found' };
      const { expected } = input;
      if (
        user.onboardingCompleted !== expected.onboardingCompleted ||
        user.kycStatus !== expected.kycStatus ||
        user.accreditationStatus !== expected.accreditationStatus
      ) {
        return { outcome: 'stale', user };
      }
      const updated: UserRecord = { ...user, ...input.next, updatedAt: input.now };
      await set(key.user(input.userId), updated);
      await enqueue(input.events);
      return { outcome: 'updated', user: updated };
    },

    async createWebhookSubscription(record) {
      await set(key.subscriptions(record.orgId), [...(await subscriptionsOf(record.orgId)), record]);
    },

    async getWebhookSubscription(orgId, subscriptionId) {
      return (
        (await subscriptionsOf(orgId)).find((record) => record.subscriptionId === subscriptionId) ?? null
      );
    },

    async listWebhookSubscriptions(orgId) {
      return (await subscriptionsOf(orgId)).sort((a, b) => a.createdAt - b.createdAt);
    },

    async updateWebhookSubscription(orgId, subscriptionId, patch, now) {
      const stored = await subscriptionsOf(orgId);
      const index = stored.findIndex((record) => record.subscriptionId === subscriptionId);
      const current = stored[index];
      if (!current) return null;
      const defined = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
      const updated: WebhookSubscriptionRecord = { ...current, ...defined, updatedAt: now };
      stored[index] = updated;
      await set(key.subscriptions(orgId), stored);
      return updated;
    },

    async deleteWebhookSubscription(orgId, subscriptionId) {
      const stored = await subscriptionsOf(orgId);
      const kept = stored.filter((record) => record.subscriptionId !== subscriptionId);
      if (kept.length === stored.length) return false;
      await set(key.subscriptions(orgId), kept);
      return true;
    },

    enqueueWebhookEvents: enqueue,

    async addWebhookDelivery(record) {
      await addDeliveries([record]);
    },

    async claimWebhookDeliveries({ now, limit, leaseSeconds, leaseToken }) {
      const due = (await get<string[]>(key.dueDeliveries)) ?? [];
      const pending: WebhookDeliveryRecord[] = [];
      const finished = new Set<string>();
      for (const deliveryId of due) {
        const delivery = await get<WebhookDeliveryRecord>(key.delivery(deliveryId));
        if (delivery?.status !== 'pending') finished.add(deliveryId);
        else if (isClaimable(delivery, now)) pending.push(delivery);
      }
      if (finished.size > 0) {
        const latest = (await get<string[]>(key.dueDeliveries)) ?? [];
        await set(
          key.dueDeliveries,
          latest.filter((deliveryId) => !finished.has(deliveryId)),
        );
      }
      const claimed = pending
        .sort(byDueTime)
        .slice(0, limit)
        .map((delivery) => ({ ...delivery, leaseToken, leaseExpiresAt: now + leaseSeconds }));
      for (const delivery of claimed) await saveDelivery(delivery);
      return claimed;
    },

    async completeWebhookAttempt(input) {
      const delivery = await get<WebhookDeliveryRecord>(key.delivery(input.deliveryId));
      if (!delivery || delivery.leaseToken !== input.leaseToken) return false;
      await saveDelivery({
        ...delivery,
        status: input.status,
        nextAttemptAt: input.nextAttemptAt,
        leaseToken: null,
        leaseExpiresAt: null,
        attempts: [...delivery.attempts, input.attempt],
        updatedAt: input.now,
      });
      return true;
    },

    async listWebhookDeliveries(orgId, subscriptionId, limit) {
      const ids = (await get<string[]>(key.subscriptionDeliveries(subscriptionId))) ?? [];
      const found = await Promise.all(
        ids.map((deliveryId) => get<WebhookDeliveryRecord>(key.delivery(deliveryId))),
      );
      return found
        .filter((delivery): delivery is WebhookDeliveryRecord => delivery?.orgId === orgId)
        .sort(newestDeliveriesFirst)
        .slice(0, limit);
    },

    async getUser(orgId, userId) {
      const user = await readUser(userId);
      return user && user.orgId === orgId ? user : null;
    },

    async setUserRole({ orgId, userId, role, now }) {
      const user = await readUser(userId);
      if (!user || user.orgId !== orgId) return null;
      const updated: UserRecord = { ...user, role, updatedAt: now };
      await set(key.user(userId), updated);
      return updated;
    },

    async saveRefreshToken(saved) {
      // Copied before the first await: the caller may reuse its object once this call returns.
      const record = { ...saved };
      if ((await get(key.familyRevoked(record.familyId))) !== undefined) return;
      const ttlSeconds = secondsToKeep(record.expiresAt);
      await set(key.refreshToken(record.jti), record, ttlSeconds);
      // Revocation cannot list a family's tokens here, so it remembers the family for as long as
      // the longest-lived of them instead.
      const latest = (await get<number>(key.familyExpiry(record.familyId))) ?? 0;
      if (record.expiresAt > latest) {
        await set(key.familyExpiry(record.familyId), record.expiresAt, ttlSeconds);
      }
    },

    async consumeRefreshToken(jti, now) {
      const record = await get<RefreshTokenRecord>(key.refreshToken(jti));
      // Only the caller whose delete removed the key may use the token.
      if (!record || !(await remove(key.refreshToken(jti)))) return null;
      if (record.expiresAt <= now) return null;
      if ((await get(key.familyRevoked(record.familyId))) !== undefined) return null;
      return record;
    },

    async revokeRefreshTokenFamily(familyId, now) {
      const latest = (await get<number>(key.familyExpiry(familyId))) ?? now;
      const ttlSeconds = Math.max(FAMILY_REVOCATION_MIN_SECONDS, latest - now + EXPIRY_MARGIN_SECONDS);
      await set(key.familyRevoked(familyId), now, ttlSeconds);
    },

    async ensureSigningKey(candidate) {
      const stored = (await get<SigningKeyRecord[]>(key.signingKeys(candidate.use))) ?? [];
      const newest = newestSigningKeysFirst(stored)[0];
      if (newest) return newest;
      await set(key.signingKeys(candidate.use), [candidate]);
      return candidate;
    },

    async addSigningKey(record) {
      const stored = (await get<SigningKeyRecord[]>(key.signingKeys(record.use))) ?? [];
      if (stored.some((existing) => existing.kid === record.kid)) return;
      await set(key.signingKeys(record.use), [...stored, record]);
    },

    async listSigningKeys(use) {
      return newestSigningKeysFirst((await get<SigningKeyRecord[]>(key.signingKeys(use))) ?? []);
    },
  };
}

// The per-subscription delivery list keeps this many ids; it is read and rewritten whole.
const MAX_LISTED_DELIVERIES = 100;
