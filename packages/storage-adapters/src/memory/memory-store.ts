import type {
  ApiKeyRecord,
  FindOrCreateUserInput,
  FindOrCreateUserResult,
  IssuerRegistrationRecord,
  OrganizationPatch,
  OrganizationRecord,
  RefreshTokenRecord,
  SigningKeyRecord,
  SigningKeyUse,
  Store,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { epochSeconds, FAMILY_REVOCATION_MIN_SECONDS } from '../internal/retention.js';

/**
 * Deep copy of a record, through JSON as the Redis and Keyv stores store them, so a record reads
 * back the same from every store. For the records that hold arrays or objects; the flat ones on
 * the exchange's hot path (users, refresh tokens) take `copyFlat`, as a JSON round trip costs
 * microseconds per record.
 */
function copy<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

/**
 * Copy of a record whose fields are all strings, numbers, booleans or null: a spread copies it
 * whole, so the caller can change neither the stored record nor the one it got back.
 */
function copyFlat<T extends object>(record: T): T {
  return { ...record };
}

/**
 * `copyFlat` for a record the store keeps. Its strings are flattened first: an id from
 * `randomUUID()` is a tree of concatenated pieces that costs several hundred bytes of heap while it
 * lives (about 1 kB against 0.2 kB per refresh-token record), and refresh-token records live for
 * their whole lifetime. V8 flattens such a string in place as soon as a character is read by index.
 */
function copyFlatToKeep<T extends object>(record: T): T {
  const kept = { ...record };
  for (const value of Object.values(kept)) if (typeof value === 'string') value.charCodeAt(0);
  return kept;
}

/**
 * A Store kept in this process's memory: for tests and single-process development.
 *
 * Every method runs to completion without yielding, so each is atomic by construction. Nothing
 * survives a restart and nothing is shared between processes; use `sqlStore()` or `redisStore()`
 * when either matters. Expired refresh tokens are dropped lazily.
 *
 * @example
 * app.use(rialtoExchange({ store: memoryStore() }));
 */
export function memoryStore(): Store {
  const organizations = new Map<string, OrganizationRecord>();
  const issuerRegistrations = new Map<string, IssuerRegistrationRecord>();
  const apiKeys = new Map<string, ApiKeyRecord[]>();
  const users = new Map<string, UserRecord>();
  const userIdByIdentity = new Map<string, string>();
  const userIdByEmail = new Map<string, string>();
  // Live refresh tokens; once used, a token moves to `usedRefreshTokens` until it expires.
  const refreshTokens = new Map<string, RefreshTokenRecord>();
  const usedRefreshTokens = new Map<string, { familyId: string; successorJti: string; expiresAt: number }>();
  const familyRevokedAt = new Map<string, number>();
  let savesSinceSweep = 0;
  const signingKeys: SigningKeyRecord[] = [];
  const subscriptions = new Map<string, WebhookSubscriptionRecord>();
  const deliveries = new Map<string, WebhookDeliveryRecord>();
  const consumedUntil = new Map<string, number>();
  let consumesSinceSweep = 0;

  const { emailKey, identityKey, sortedBy } = storeKit;

  // Unconsumed tokens and old revocations would otherwise accumulate for the life of the process.
  function sweep(now: number) {
    for (const [jti, record] of refreshTokens) if (record.expiresAt <= now) refreshTokens.delete(jti);
    for (const [jti, used] of usedRefreshTokens) if (used.expiresAt <= now) usedRefreshTokens.delete(jti);
    for (const [familyId, revokedAt] of familyRevokedAt) {
      if (revokedAt + FAMILY_REVOCATION_MIN_SECONDS <= now) familyRevokedAt.delete(familyId);
    }
    for (const [key, expiresAt] of consumedUntil) if (expiresAt <= now) consumedUntil.delete(key);
  }

  // Successors stored by rotation count too: a service that mostly refreshes must still sweep.
  function sweepNowAndThen() {
    if (++savesSinceSweep >= SWEEP_EVERY_SAVES) {
      savesSinceSweep = 0;
      sweep(epochSeconds());
    }
  }

  const registrationsOfIssuer = (issuer: string) =>
    [...issuerRegistrations.values()].filter((registration) => registration.issuer === issuer);

  function removeUser(user: UserRecord) {
    users.delete(user.userId);
    userIdByEmail.delete(emailKey(user.orgId, user.email));
    for (const [identity, linkedUserId] of userIdByIdentity) {
      if (linkedUserId === user.userId) userIdByIdentity.delete(identity);
    }
  }

  const subscriptionsOf = (orgId: string) =>
    [...subscriptions.values()].filter((subscription) => subscription.orgId === orgId);

  const signingKeysFor = (use: SigningKeyUse) =>
    sortedBy(
      signingKeys.filter((key) => key.use === use),
      storeKit.newestSigningKeyFirst,
    );

  function enqueue(events: FindOrCreateUserInput['eventsIfCreated'] = []) {
    for (const delivery of storeKit.webhookDeliveriesFor(events, subscriptionsOf))
      deliveries.set(delivery.deliveryId, delivery);
  }

  return {
    async createOrganization(org, firstKey, firstIssuer) {
      const conflict = storeKit.issuerRegistrationConflict(
        registrationsOfIssuer(firstIssuer.issuer),
        firstIssuer,
      );
      if (conflict === 'issuer_taken' || conflict === 'client_id_taken') return conflict;
      organizations.set(org.orgId, copy(org));
      apiKeys.set(org.orgId, [copy(firstKey)]);
      issuerRegistrations.set(firstIssuer.registrationId, copy(firstIssuer));
      return 'created';
    },

    async getOrganization(orgId) {
      const org = organizations.get(orgId);
      return org ? copy(org) : null;
    },

    async addIssuerRegistration(record) {
      const conflict = storeKit.issuerRegistrationConflict(registrationsOfIssuer(record.issuer), record);
      if (conflict) return conflict;
      issuerRegistrations.set(record.registrationId, copy(record));
      return 'added';
    },

    async listIssuerRegistrations(orgId) {
      return sortedBy(
        [...issuerRegistrations.values()].filter((registration) => registration.orgId === orgId),
        storeKit.oldestRegistrationFirst,
      ).map(copy);
    },

    async findIssuerRegistrations(issuer) {
      return sortedBy(registrationsOfIssuer(issuer), storeKit.oldestRegistrationFirst).map(copy);
    },

    async removeIssuerRegistration(orgId, registrationId) {
      if (issuerRegistrations.get(registrationId)?.orgId !== orgId) return false;
      return issuerRegistrations.delete(registrationId);
    },

    async updateOrganization(orgId: string, patch: OrganizationPatch, now: number) {
      const org = organizations.get(orgId);
      if (!org) return null;
      const updated = storeKit.applyOrganizationPatch(org, copy(patch), now);
      organizations.set(orgId, updated);
      return copy(updated);
    },

    async addApiKey(key) {
      const keys = apiKeys.get(key.orgId) ?? [];
      keys.push(copy(key));
      apiKeys.set(key.orgId, keys);
    },

    async listActiveApiKeys(orgId) {
      const active = (apiKeys.get(orgId) ?? []).filter((key) => key.revokedAt === null);
      return sortedBy(active, storeKit.oldestApiKeyFirst).map(copy);
    },

    async revokeApiKey(orgId, keyId, now) {
      const key = apiKeys.get(orgId)?.find((candidate) => candidate.keyId === keyId);
      if (!key || key.revokedAt !== null) return false;
      key.revokedAt = now;
      return true;
    },

    async findOrCreateUser(input: FindOrCreateUserInput): Promise<FindOrCreateUserResult> {
      const byIdentity = identityKey(input.orgId, input.iss, input.sub);
      const linkedUserId = userIdByIdentity.get(byIdentity);
      if (linkedUserId !== undefined) {
        return { outcome: 'existing', user: copyFlat(users.get(linkedUserId) as UserRecord) };
      }
      const byEmail = emailKey(input.orgId, input.email);
      const sameEmailUserId = userIdByEmail.get(byEmail);
      if (sameEmailUserId !== undefined) {
        if (!input.mayLinkByEmail) return { outcome: 'conflict' };
        userIdByIdentity.set(byIdentity, sameEmailUserId);
        return { outcome: 'linked', user: copyFlat(users.get(sameEmailUserId) as UserRecord) };
      }
      if (input.mayCreate === false) return { outcome: 'not_provisioned' };
      const user = copyFlatToKeep(input.newUser);
      users.set(user.userId, user);
      enqueue(input.eventsIfCreated);
      userIdByEmail.set(byEmail, user.userId);
      userIdByIdentity.set(byIdentity, user.userId);
      return { outcome: 'created', user: copyFlat(user) };
    },

    async getUser(orgId, userId) {
      const user = users.get(userId);
      return user && user.orgId === orgId ? copyFlat(user) : null;
    },

    async getUserById(userId) {
      const user = users.get(userId);
      return user ? copyFlat(user) : null;
    },

    async updateUserVerification(input) {
      const user = users.get(input.userId);
      if (!user || user.orgId !== input.orgId) return { outcome: 'not_found' };
      if (!storeKit.sameVerification(user, input.expected)) {
        return { outcome: 'stale', user: copy(user) };
      }
      const updated: UserRecord = { ...user, ...copy(input.next), updatedAt: input.now };
      users.set(user.userId, updated);
      enqueue(input.events);
      return { outcome: 'updated', user: copy(updated) };
    },

    async createUser({ user, events }) {
      const byEmail = emailKey(user.orgId, user.email);
      if (userIdByEmail.has(byEmail)) return 'email_taken';
      users.set(user.userId, copyFlatToKeep(user));
      userIdByEmail.set(byEmail, user.userId);
      enqueue(events);
      return 'created';
    },

    async deleteUser({ orgId, userId, events }) {
      const user = users.get(userId);
      if (!user || user.orgId !== orgId) return false;
      removeUser(user);
      enqueue(events);
      return true;
    },

    async deleteOrganization(orgId) {
      const org = organizations.get(orgId);
      for (const [id, registration] of issuerRegistrations)
        if (registration.orgId === orgId) issuerRegistrations.delete(id);
      organizations.delete(orgId);
      apiKeys.delete(orgId);
      for (const user of [...users.values()]) if (user.orgId === orgId) removeUser(user);
      for (const [jti, record] of refreshTokens) if (record.orgId === orgId) refreshTokens.delete(jti);
      for (const [id, subscription] of subscriptions)
        if (subscription.orgId === orgId) subscriptions.delete(id);
      for (const [id, delivery] of deliveries) if (delivery.orgId === orgId) deliveries.delete(id);
      return org !== undefined;
    },

    async setUserRole({ orgId, userId, role, now }) {
      const user = users.get(userId);
      if (!user || user.orgId !== orgId) return null;
      const updated: UserRecord = { ...user, role, updatedAt: now };
      users.set(userId, updated);
      return copy(updated);
    },

    async createWebhookSubscription(record) {
      subscriptions.set(record.subscriptionId, copy(record));
    },

    async getWebhookSubscription(orgId, subscriptionId) {
      const subscription = subscriptions.get(subscriptionId);
      return subscription && subscription.orgId === orgId ? copy(subscription) : null;
    },

    async listWebhookSubscriptions(orgId) {
      return sortedBy(subscriptionsOf(orgId), storeKit.oldestSubscriptionFirst).map(copy);
    },

    async updateWebhookSubscription(orgId, subscriptionId, patch, now) {
      const subscription = subscriptions.get(subscriptionId);
      if (!subscription || subscription.orgId !== orgId) return null;
      const updated = storeKit.applyWebhookSubscriptionPatch(subscription, copy(patch), now);
      subscriptions.set(subscriptionId, updated);
      return copy(updated);
    },

    async deleteWebhookSubscription(orgId, subscriptionId) {
      const subscription = subscriptions.get(subscriptionId);
      if (!subscription || subscription.orgId !== orgId) return false;
      return subscriptions.delete(subscriptionId);
    },

    async enqueueWebhookEvents(events) {
      enqueue(events);
    },

    async addWebhookDelivery(record) {
      deliveries.set(record.deliveryId, copy(record));
    },

    async claimWebhookDeliveries({ now, limit, leaseSeconds, leaseToken }) {
      const due = sortedBy(
        [...deliveries.values()].filter((delivery) => storeKit.isClaimable(delivery, now)),
        storeKit.earliestDueDeliveryFirst,
      );
      return due.slice(0, limit).map((delivery) => {
        delivery.leaseToken = leaseToken;
        delivery.leaseExpiresAt = now + leaseSeconds;
        return copy(delivery);
      });
    },

    async completeWebhookAttempt(input) {
      const delivery = deliveries.get(input.deliveryId);
      if (!delivery || delivery.leaseToken !== input.leaseToken) return false;
      deliveries.set(input.deliveryId, {
        ...delivery,
        status: input.status,
        nextAttemptAt: input.nextAttemptAt,
        leaseToken: null,
        leaseExpiresAt: null,
        attempts: [...delivery.attempts, copy(input.attempt)],
        updatedAt: input.now,
      });
      return true;
    },

    async countPendingWebhookDeliveries(now) {
      let pending = 0;
      for (const delivery of deliveries.values()) if (storeKit.isClaimable(delivery, now)) pending++;
      return pending;
    },

    async listWebhookDeliveries(orgId, subscriptionId, limit) {
      return [...deliveries.values()]
        .filter((delivery) => delivery.orgId === orgId && delivery.subscriptionId === subscriptionId)
        .sort(storeKit.newestDeliveryFirst)
        .slice(0, limit)
        .map(copy);
    },

    async saveRefreshToken(record) {
      // Refused at consumption anyway; not storing it means the revocation need not outlive it.
      if (familyRevokedAt.has(record.familyId)) return;
      refreshTokens.set(record.jti, copyFlatToKeep(record));
      sweepNowAndThen();
    },

    async rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      const live = refreshTokens.get(jti);
      if (live) {
        if (live.expiresAt <= now || familyRevokedAt.has(live.familyId)) return { outcome: 'unknown' };
        refreshTokens.delete(jti);
        usedRefreshTokens.set(jti, {
          familyId: live.familyId,
          successorJti: successor.jti,
          expiresAt: live.expiresAt,
        });
        refreshTokens.set(successor.jti, copyFlatToKeep(successor));
        sweepNowAndThen();
        return { outcome: 'rotated', successor: copyFlat(successor) };
      }
      const used = usedRefreshTokens.get(jti);
      if (!used || familyRevokedAt.has(used.familyId)) return { outcome: 'unknown' };
      // Still in `refreshTokens` means the successor itself is unused.
      const next = refreshTokens.get(used.successorJti);
      if (next && now < next.issuedAt + graceSeconds)
        return { outcome: 'retried', successor: copyFlat(next) };
      return { outcome: 'reused' };
    },

    async consumeOnce(key, expiresAt, now) {
      const recordedUntil = consumedUntil.get(key);
      if (recordedUntil !== undefined && recordedUntil > now) return false;
      consumedUntil.set(key, expiresAt);
      if (++consumesSinceSweep >= SWEEP_EVERY_SAVES) {
        consumesSinceSweep = 0;
        sweep(now);
      }
      return true;
    },

    async revokeRefreshTokenFamily(familyId, now) {
      familyRevokedAt.set(familyId, now);
      for (const [jti, record] of refreshTokens) {
        if (record.familyId === familyId) refreshTokens.delete(jti);
      }
      for (const [jti, used] of usedRefreshTokens) {
        if (used.familyId === familyId) usedRefreshTokens.delete(jti);
      }
    },

    async ensureSigningKey(candidate) {
      const existing = signingKeysFor(candidate.use)[0];
      if (existing) return copy(existing);
      signingKeys.push(copy(candidate));
      return copy(candidate);
    },

    async addSigningKey(record) {
      if (signingKeys.some((key) => key.use === record.use && key.kid === record.kid)) return;
      signingKeys.push(copy(record));
    },

    async listSigningKeys(use: SigningKeyUse) {
      return signingKeysFor(use).map(copy);
    },
  };
}

const SWEEP_EVERY_SAVES = 1000;
