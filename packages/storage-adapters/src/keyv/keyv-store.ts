import type {
  ApiKeyRecord,
  EmailLinkingPolicy,
  FindOrCreateUserResult,
  IssuerRegistrationRecord,
  OrganizationRecord,
  RefreshTokenRecord,
  RotateRefreshTokenResult,
  SigningKeyRecord,
  SigningKeyUse,
  Store,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { StoreUnavailableError, storeKit } from '@rialto-exchange/core';
import {
  parseOptions,
  positiveNumber,
  requiredBecause,
  strictOptions,
} from '@rialto-exchange/core/option-schema';
import { z } from 'zod';
import { withDeadline } from '../internal/deadline.js';
import { createKeyedLock } from '../internal/keyed-lock.js';
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
  delete(key: string): Promise<boolean>;
  readonly throwOnErrors: boolean;
  readonly store?: unknown;
}

const keyvStoreOptionsShape = {
  /**
   * Whether other processes use the same Keyv backend. Required, because the answer changes what
   * the store can promise: its writes are serialized per key within this process only. With
   * `false`, every guarantee of the Store contract holds. With `true`, the races listed in the
   * store's documentation remain between processes, and webhook subscriptions are refused unless
   * `acceptDuplicateWebhookDeliveries` is set.
   */
  sharedBetweenProcesses: z.boolean({
    error: requiredBecause(
      'say whether other processes use this Keyv backend (writes are serialized within one process only)',
      'must be true or false',
    ),
  }),
  /**
   * With `sharedBetweenProcesses`, allow webhook subscriptions although two processes' delivery
   * workers can claim, and so send, one delivery twice, and events recorded at once in two
   * processes can lose one another's place in the due list.
   * @default false
   */
  acceptDuplicateWebhookDeliveries: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * How long any Keyv call may take before the operation fails with `StoreUnavailableError`.
   * @default 5000
   */
  timeoutMs: positiveNumber().default(5_000),
};

/**
 * Settings of `keyvStore()`.
 *
 * @example
 * keyvStore(keyv, { timeoutMs: 2_000 });
 */
export interface KeyvStoreOptions extends z.input<z.ZodObject<typeof keyvStoreOptionsShape>> {}

const keyvStoreOptionsSchema = strictOptions(keyvStoreOptionsShape);

// After a Keyv call fails, calls fail at once for this long instead of each waiting out
// `timeoutMs`; then one call probes the backend while the others keep failing fast.
const FAIL_FAST_MS = 1_000;

/**
 * A Store over any Keyv 5 instance (`@keyv/redis`, `@keyv/postgres`, `@keyv/mongo`, ...), for
 * hosts that already run a Keyv backend. Within one process, writes that read and rewrite one
 * record are serialized per key, so every guarantee of the Store contract holds with
 * `sharedBetweenProcesses: false`. Prefer `redisStore()` or `sqlStore()` when several processes
 * share the backend: Keyv offers get, set and delete, but no compare-and-set and no multi-key
 * transaction, so between processes this store cannot give these guarantees:
 *
 * - Two `createOrganization` or `addIssuerRegistration` calls racing for one issuer or client id can
 *   both succeed, and racing registrations of one issuer can lose one another.
 * - Racing `addApiKey`/`revokeApiKey`, `updateOrganization`, `setUserRole` or `addSigningKey` calls
 *   on one record each read, modify and write it, so one change can be lost, a key revocation included.
 * - Racing first exchanges of one person (`findOrCreateUser`, same identity or same email) can
 *   create two users.
 * - Instances starting together on an empty backend can each store their own signing key
 *   (`ensureSigningKey`), so tokens minted by one do not verify on another until they reload keys.
 * - Webhook outbox: two workers claiming at once can both take one delivery, so it can be sent
 *   twice; events recorded at the same time can lose one another's place in the due list. Webhook
 *   subscriptions are therefore refused unless the host sets `acceptDuplicateWebhookDeliveries`.
 * - A user's verification change and its events are separate writes (the user first).
 * - `deleteUser` and `deleteOrganization` find a user's identity links and an org's users through
 *   lists this store keeps since they were added; users and links written before are not found
 *   (links left behind name a missing user, which `findOrCreateUser` treats as absent).
 * - A write interrupted by an outage can leave part of it behind. Writes are ordered so that what
 *   remains is harmless: an organization is reachable by issuer only once its key is stored, and a
 *   user by email only once its identity link is.
 * - Single-use ID tokens (`consumeOnce`, used by the `singleUseIdTokens` option) are read, then
 *   written under the in-process lock: two exchanges of one token at the same instant on two
 *   processes can both pass. One after the other, or within one process, the second is refused.
 * - Refresh tokens: rotations of one token are queued within one process, so there it rotates
 *   once; two instances rotating the same token at the same moment can both succeed, each with its
 *   own successor. Rotation writes the successor before marking the token used, so a write cut short
 *   leaves the token live rather than used without a successor.
 *
 * What it does guarantee: every single-caller behaviour of the Store contract, including the retry
 * grace window of refresh tokens; revoked families stay refused while any of their tokens can
 * live, and their markers expire after that.
 *
 * The Keyv instance must be created with `throwOnErrors: true`, and so must its adapter where it
 * has the option (`@keyv/redis` does): Keyv otherwise reports a backend failure as a missing key,
 * which would let an outage pass for "no such user" and create one. The factory refuses an
 * instance configured that way.
 *
 * @example
 * import { createKeyv } from '@keyv/redis';
 *
 * During an outage, calls fail fast: after one call fails, the others answer
 * `StoreUnavailableError` at once for a second, then one call at a time probes the backend.
 *
 * @example
 * import { createKeyv } from '@keyv/redis';
 *
 * const keyv = createKeyv(process.env.REDIS_URL, { namespace: 'rialto', throwOnErrors: true });
 * const store = keyvStore(keyv, { sharedBetweenProcesses: false });
 * app.use(rialtoExchange({ issuer: 'https://api.example.com', store }));
 */
export function keyvStore(keyv: KeyvLike, options: KeyvStoreOptions): Store {
  if (keyv?.throwOnErrors !== true) {
    throw new TypeError('keyvStore: create the Keyv instance with `throwOnErrors: true`');
  }
  if ((keyv.store as { throwOnErrors?: unknown } | undefined)?.throwOnErrors === false) {
    throw new TypeError(
      'keyvStore: create the Keyv adapter with `throwOnErrors: true` (e.g. `new KeyvRedis(url, { throwOnErrors: true })`)',
    );
  }
  const { sharedBetweenProcesses, acceptDuplicateWebhookDeliveries, timeoutMs } = parseOptions(
    keyvStoreOptionsSchema,
    options,
    'keyvStore',
  );
  const refusesWebhooks = sharedBetweenProcesses && !acceptDuplicateWebhookDeliveries;

  let failedAtMs: number | undefined;
  let isProbing = false;
  async function call<T>(start: () => Promise<T>): Promise<T> {
    const isProbe = failedAtMs !== undefined;
    if (isProbe && (isProbing || Date.now() - (failedAtMs as number) < FAIL_FAST_MS)) {
      throw new StoreUnavailableError('The Keyv backend failed moments ago; not asking it again yet.');
    }
    if (isProbe) isProbing = true;
    try {
      const result = await withDeadline(
        start(),
        timeoutMs,
        () => new Error(`Keyv did not answer within ${timeoutMs} ms`),
      );
      failedAtMs = undefined;
      return result;
    } catch (error) {
      failedAtMs = Date.now();
      throw new StoreUnavailableError('The Keyv backend is unreachable or failed to answer in time.', {
        cause: error,
      });
    } finally {
      if (isProbe) isProbing = false;
    }
  }
  const get = <T>(key: string) => call(() => keyv.get(key)) as Promise<T | undefined>;
  const set = (key: string, value: unknown, ttlSeconds?: number) =>
    call(() => keyv.set(key, value, ttlSeconds === undefined ? undefined : ttlSeconds * 1000));
  const remove = (key: string) => call(() => keyv.delete(key));
  const withLocks = createKeyedLock();
  // The due list and the per-subscription lists are rewritten whole: one writer at a time.
  const OUTBOX = 'outbox';

  const key = {
    organization: (orgId: string) => `org:${orgId}`,
    // Written by versions before issuer registrations: issuer -> org id (see upgradeOrganization).
    legacyIssuer: (issuer: string) => `issuer:${issuer}`,
    // Every org's registrations of one issuer.
    issuerRegistrations: (issuer: string) => `issuer-regs:${issuer}`,
    // An org's registrations as { registrationId, issuer }, so an org's data is found by its id.
    orgIssuers: (orgId: string) => `org-issuers:${orgId}`,
    apiKeys: (orgId: string) => `api-keys:${orgId}`,
    user: (userId: string) => `user:${userId}`,
    // JSON arrays keep composite keys unambiguous whatever characters the parts contain.
    identity: (orgId: string, iss: string, sub: string) =>
      `identity:${storeKit.identityKey(orgId, iss, sub)}`,
    email: (orgId: string, email: string) => `email:${storeKit.emailKey(orgId, email)}`,
    refreshToken: (jti: string) => `refresh:${jti}`,
    consumed: (consumedKey: string) => `consumed:${consumedKey}`,
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

  function addToList(listKey: string, item: string): Promise<void> {
    return withLocks([listKey], async () => {
      const listed = (await get<string[]>(listKey)) ?? [];
      if (!listed.includes(item)) await set(listKey, [...listed, item]);
    });
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
    await withLocks([OUTBOX], () => appendDeliveries(deliveries));
  }

  async function appendDeliveries(deliveries: readonly WebhookDeliveryRecord[]): Promise<void> {
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
    await addDeliveries(storeKit.webhookDeliveriesFor(events, (orgId) => byOrg.get(orgId) ?? []));
  }

  async function saveRefreshToken(record: RefreshTokenRecord): Promise<void> {
    if ((await get(key.familyRevoked(record.familyId))) !== undefined) return;
    const ttlSeconds = secondsToKeep(record.expiresAt);
    await set(key.refreshToken(record.jti), record, ttlSeconds);
    // Revocation cannot list a family's tokens here, so it remembers the family for as long as
    // the longest-lived of them instead.
    await withLocks([key.familyExpiry(record.familyId)], async () => {
      const latest = (await get<number>(key.familyExpiry(record.familyId))) ?? 0;
      if (record.expiresAt > latest) {
        await set(key.familyExpiry(record.familyId), record.expiresAt, ttlSeconds);
      }
    });
  }

  async function readOrganization(orgId: string): Promise<OrganizationRecord | undefined> {
    const org = await get<OrganizationRecord>(key.organization(orgId));
    return org && organizationFields(org);
  }

  async function readUser(userId: string): Promise<UserRecord | undefined> {
    const user = await get<UserRecord>(key.user(userId));
    return user && storeKit.withUserDefaults(user);
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

  /** The slow path of findOrCreateUser, under the locks of the identity and the email. */
  async function createOrLinkUser(
    input: Parameters<Store['findOrCreateUser']>[0],
    identityKey: string,
  ): Promise<FindOrCreateUserResult> {
    // Read again under the lock: a caller that held it before may have created the link. A link or
    // email entry naming a deleted user counts as absent.
    const linkedId = await get<string>(identityKey);
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

    const user = input.newUser;
    // User, then identity, then email: cut short, a retry of the same identity still finds its
    // user, and nobody else is refused or linked because of a half-created one.
    await set(key.user(user.userId), user);
    await set(identityKey, user.userId);
    await set(key.email(input.orgId, input.email), user.userId);
    await set(key.userIdentities(user.userId), [identityKey]);
    await addToList(key.orgUsers(input.orgId), user.userId);
    await enqueue(input.eventsIfCreated ?? []);
    return { outcome: 'created', user };
  }

  const registrationsOfIssuer = async (issuer: string) =>
    (await get<IssuerRegistrationRecord[]>(key.issuerRegistrations(issuer))) ?? [];
  const orgIndex = async (orgId: string) => (await get<OrgIssuerEntry[]>(key.orgIssuers(orgId))) ?? [];

  /**
   * Moves the issuer fields of an organization written before issuer registrations into its first
   * registration (id = org id), on first touch. Each step is idempotent and the legacy index goes
   * last, so an interrupted upgrade is finished by the next call.
   */
  async function upgradeOrganization(orgId: string): Promise<void> {
    const org = await get<OrganizationRecord & Partial<LegacyIssuerFields>>(key.organization(orgId));
    if (org?.issuer === undefined) return;
    const registration: IssuerRegistrationRecord = {
      registrationId: orgId,
      orgId,
      issuer: org.issuer,
      clientIds: org.clientIds ?? [],
      allowedAlgorithms: org.allowedAlgorithms ?? [],
      emailLinking: org.emailLinking ?? 'unless_unverified',
      subjectClaim: 'sub',
      trustUsernameClaims: false,
      createdAt: org.createdAt,
      updatedAt: org.updatedAt,
    };
    const sameIssuer = await registrationsOfIssuer(org.issuer);
    if (!sameIssuer.some((found) => found.registrationId === orgId)) {
      await set(key.issuerRegistrations(org.issuer), [...sameIssuer, registration]);
    }
    const index = await orgIndex(orgId);
    if (!index.some((entry) => entry.registrationId === orgId)) {
      await set(key.orgIssuers(orgId), [...index, indexEntry(registration)]);
    }
    await set(key.organization(orgId), organizationFields(org));
    await remove(key.legacyIssuer(org.issuer));
  }

  async function upgradeIssuer(issuer: string): Promise<void> {
    const orgId = await get<string>(key.legacyIssuer(issuer));
    if (orgId !== undefined) await upgradeOrganization(orgId);
  }

  return {
    async createOrganization(org, firstKey, firstIssuer) {
      await upgradeIssuer(firstIssuer.issuer);
      return withLocks([key.issuerRegistrations(firstIssuer.issuer)], async () => {
        const sameIssuer = await registrationsOfIssuer(firstIssuer.issuer);
        const conflict = storeKit.issuerRegistrationConflict(sameIssuer, firstIssuer);
        if (conflict === 'issuer_taken' || conflict === 'client_id_taken') return conflict;
        await set(key.organization(org.orgId), org);
        await set(key.apiKeys(org.orgId), [firstKey]);
        await set(key.orgIssuers(org.orgId), [indexEntry(firstIssuer)]);
        await set(key.issuerRegistrations(firstIssuer.issuer), [...sameIssuer, firstIssuer]);
        return 'created';
      });
    },

    async getOrganization(orgId) {
      return (await readOrganization(orgId)) ?? null;
    },

    async addIssuerRegistration(record) {
      await upgradeOrganization(record.orgId);
      await upgradeIssuer(record.issuer);
      return withLocks([key.issuerRegistrations(record.issuer), key.orgIssuers(record.orgId)], async () => {
        const sameIssuer = await registrationsOfIssuer(record.issuer);
        const conflict = storeKit.issuerRegistrationConflict(sameIssuer, record);
        if (conflict) return conflict;
        await set(key.orgIssuers(record.orgId), [...(await orgIndex(record.orgId)), indexEntry(record)]);
        await set(key.issuerRegistrations(record.issuer), [...sameIssuer, record]);
        return 'added' as const;
      });
    },

    async listIssuerRegistrations(orgId) {
      await upgradeOrganization(orgId);
      const found: IssuerRegistrationRecord[] = [];
      for (const issuer of new Set((await orgIndex(orgId)).map((entry) => entry.issuer))) {
        found.push(
          ...(await registrationsOfIssuer(issuer)).filter((registration) => registration.orgId === orgId),
        );
      }
      return storeKit.sortedBy(found, storeKit.oldestRegistrationFirst);
    },

    async findIssuerRegistrations(issuer) {
      await upgradeIssuer(issuer);
      return storeKit.sortedBy(await registrationsOfIssuer(issuer), storeKit.oldestRegistrationFirst);
    },

    async removeIssuerRegistration(orgId, registrationId) {
      await upgradeOrganization(orgId);
      const entry = (await orgIndex(orgId)).find((candidate) => candidate.registrationId === registrationId);
      if (!entry) return false;
      return withLocks([key.issuerRegistrations(entry.issuer), key.orgIssuers(orgId)], async () => {
        const index = await orgIndex(orgId);
        if (!index.some((candidate) => candidate.registrationId === registrationId)) return false;
        const sameIssuer = await registrationsOfIssuer(entry.issuer);
        // The lookup first: a registration stops being used before it stops being listed.
        await set(
          key.issuerRegistrations(entry.issuer),
          sameIssuer.filter((registration) => registration.registrationId !== registrationId),
        );
        await set(
          key.orgIssuers(orgId),
          index.filter((candidate) => candidate.registrationId !== registrationId),
        );
        return true;
      });
    },

    async updateOrganization(orgId, patch, now) {
      await upgradeOrganization(orgId);
      return withLocks([key.organization(orgId)], async () => {
        const org = await readOrganization(orgId);
        if (!org) return null;
        const updated = storeKit.applyOrganizationPatch(org, patch, now);
        await set(key.organization(orgId), updated);
        return updated;
      });
    },

    addApiKey(record) {
      return withLocks([key.apiKeys(record.orgId)], async () => {
        const keys = (await get<ApiKeyRecord[]>(key.apiKeys(record.orgId))) ?? [];
        await set(key.apiKeys(record.orgId), [...keys, record]);
      });
    },

    async listActiveApiKeys(orgId) {
      const keys = (await get<ApiKeyRecord[]>(key.apiKeys(orgId))) ?? [];
      return storeKit.sortedBy(
        keys.filter((record) => record.revokedAt === null),
        storeKit.oldestApiKeyFirst,
      );
    },

    revokeApiKey(orgId, keyId, now) {
      return withLocks([key.apiKeys(orgId)], async () => {
        const keys = (await get<ApiKeyRecord[]>(key.apiKeys(orgId))) ?? [];
        const target = keys.find((record) => record.keyId === keyId);
        if (!target || target.revokedAt !== null) return false;
        target.revokedAt = now;
        await set(key.apiKeys(orgId), keys);
        return true;
      });
    },

    async findOrCreateUser(input) {
      const identityKey = key.identity(input.orgId, input.iss, input.sub);
      const linkedId = await get<string>(identityKey);
      // A link or email entry naming a deleted user counts as absent.
      const linked = linkedId === undefined ? undefined : await readUser(linkedId);
      if (linked) return { outcome: 'existing', user: linked };
      const emailKey = key.email(input.orgId, input.email);
      return withLocks([identityKey, emailKey], () => createOrLinkUser(input, identityKey));
    },

    createUser({ user, events }) {
      const emailKey = key.email(user.orgId, user.email);
      return withLocks([emailKey], async () => {
        const takenBy = await get<string>(emailKey);
        if (takenBy !== undefined && (await readUser(takenBy))) return 'email_taken' as const;
        await set(key.user(user.userId), user);
        await set(emailKey, user.userId);
        await addToList(key.orgUsers(user.orgId), user.userId);
        await enqueue(events);
        return 'created' as const;
      });
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
      // What readers reach the org through goes first: its issuer registrations.
      await upgradeOrganization(orgId);
      for (const entry of await orgIndex(orgId)) {
        await withLocks([key.issuerRegistrations(entry.issuer)], async () => {
          const sameIssuer = await registrationsOfIssuer(entry.issuer);
          await set(
            key.issuerRegistrations(entry.issuer),
            sameIssuer.filter((registration) => registration.orgId !== orgId),
          );
        });
      }
      await remove(key.orgIssuers(orgId));
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

    updateUserVerification(input) {
      return withLocks([key.user(input.userId)], async () => {
        const user = await readUser(input.userId);
        if (!user || user.orgId !== input.orgId) return { outcome: 'not_found' };
        if (!storeKit.sameVerification(user, input.expected)) {
          return { outcome: 'stale', user };
        }
        const updated: UserRecord = { ...user, ...input.next, updatedAt: input.now };
        await set(key.user(input.userId), updated);
        await enqueue(input.events);
        return { outcome: 'updated', user: updated };
      });
    },

    createWebhookSubscription(record) {
      if (refusesWebhooks) {
        return Promise.reject(
          new Error(
            'keyvStore: webhooks need atomic delivery claims, which Keyv cannot give between processes; use redisStore() or sqlStore(), or set `acceptDuplicateWebhookDeliveries: true`',
          ),
        );
      }
      return withLocks([key.subscriptions(record.orgId)], async () => {
        await set(key.subscriptions(record.orgId), [...(await subscriptionsOf(record.orgId)), record]);
      });
    },

    async getWebhookSubscription(orgId, subscriptionId) {
      return (
        (await subscriptionsOf(orgId)).find((record) => record.subscriptionId === subscriptionId) ?? null
      );
    },

    async listWebhookSubscriptions(orgId) {
      return storeKit.sortedBy(await subscriptionsOf(orgId), storeKit.oldestSubscriptionFirst);
    },

    updateWebhookSubscription(orgId, subscriptionId, patch, now) {
      return withLocks([key.subscriptions(orgId)], async () => {
        const stored = await subscriptionsOf(orgId);
        const index = stored.findIndex((record) => record.subscriptionId === subscriptionId);
        const current = stored[index];
        if (!current) return null;
        const updated = storeKit.applyWebhookSubscriptionPatch(current, patch, now);
        stored[index] = updated;
        await set(key.subscriptions(orgId), stored);
        return updated;
      });
    },

    deleteWebhookSubscription(orgId, subscriptionId) {
      return withLocks([key.subscriptions(orgId)], async () => {
        const stored = await subscriptionsOf(orgId);
        const kept = stored.filter((record) => record.subscriptionId !== subscriptionId);
        if (kept.length === stored.length) return false;
        await set(key.subscriptions(orgId), kept);
        return true;
      });
    },

    enqueueWebhookEvents: enqueue,

    async addWebhookDelivery(record) {
      await addDeliveries([record]);
    },

    claimWebhookDeliveries({ now, limit, leaseSeconds, leaseToken }) {
      return withLocks([OUTBOX], async () => {
        const due = (await get<string[]>(key.dueDeliveries)) ?? [];
        const pending: WebhookDeliveryRecord[] = [];
        const finished = new Set<string>();
        for (const deliveryId of due) {
          const delivery = await get<WebhookDeliveryRecord>(key.delivery(deliveryId));
          if (delivery?.status !== 'pending') finished.add(deliveryId);
          else if (storeKit.isClaimable(delivery, now)) pending.push(delivery);
        }
        if (finished.size > 0) {
          const latest = (await get<string[]>(key.dueDeliveries)) ?? [];
          await set(
            key.dueDeliveries,
            latest.filter((deliveryId) => !finished.has(deliveryId)),
          );
        }
        const claimed = pending
          .sort(storeKit.earliestDueDeliveryFirst)
          .slice(0, limit)
          .map((delivery) => ({ ...delivery, leaseToken, leaseExpiresAt: now + leaseSeconds }));
        for (const delivery of claimed) await saveDelivery(delivery);
        return claimed;
      });
    },

    completeWebhookAttempt(input) {
      return withLocks([OUTBOX], async () => {
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
      });
    },

    async countPendingWebhookDeliveries(now) {
      const due = (await get<string[]>(key.dueDeliveries)) ?? [];
      const deliveries = await Promise.all(
        due.map((deliveryId) => get<WebhookDeliveryRecord>(key.delivery(deliveryId))),
      );
      return deliveries.filter((delivery) => delivery && storeKit.isClaimable(delivery, now)).length;
    },

    async listWebhookDeliveries(orgId, subscriptionId, limit) {
      const ids = (await get<string[]>(key.subscriptionDeliveries(subscriptionId))) ?? [];
      const found = await Promise.all(
        ids.map((deliveryId) => get<WebhookDeliveryRecord>(key.delivery(deliveryId))),
      );
      return found
        .filter((delivery): delivery is WebhookDeliveryRecord => delivery?.orgId === orgId)
        .sort(storeKit.newestDeliveryFirst)
        .slice(0, limit);
    },

    async getUser(orgId, userId) {
      const user = await readUser(userId);
      return user && user.orgId === orgId ? user : null;
    },

    setUserRole({ orgId, userId, role, now }) {
      return withLocks([key.user(userId)], async () => {
        const user = await readUser(userId);
        if (!user || user.orgId !== orgId) return null;
        const updated: UserRecord = { ...user, role, updatedAt: now };
        await set(key.user(userId), updated);
        return updated;
      });
    },

    saveRefreshToken: (saved) => saveRefreshToken({ ...saved }),

    rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      // Copied before the first await: the caller may reuse its object once this call returns.
      const next: RefreshTokenRecord = { ...successor };
      // Keyv has no compare-and-set: rotations of one token are serialized in this process, so it
      // rotates once here; across processes two rotations can still both succeed (see the TSDoc).
      return withLocks([key.refreshToken(jti)], async (): Promise<RotateRefreshTokenResult> => {
        const stored = await get<RefreshTokenRecord | UsedRefreshToken>(key.refreshToken(jti));
        if (!stored || (await get(key.familyRevoked(stored.familyId))) !== undefined)
          return { outcome: 'unknown' };
        if ('successorJti' in stored) {
          const issued = await get<RefreshTokenRecord | UsedRefreshToken>(
            key.refreshToken(stored.successorJti),
          );
          return issued && !('successorJti' in issued) && now < issued.issuedAt + graceSeconds
            ? { outcome: 'retried', successor: issued }
            : { outcome: 'reused' };
        }
        if (stored.expiresAt <= now) return { outcome: 'unknown' };
        // The successor first: cut short after it, the token is still live and the retry rotates
        // it again; the successor left behind was never handed out. Marked used, the token points
        // to its successor, so a retry after a timeout that still completed gets that successor.
        await saveRefreshToken(next);
        const used: UsedRefreshToken = { familyId: stored.familyId, successorJti: next.jti };
        await set(key.refreshToken(jti), used, secondsToKeep(stored.expiresAt));
        return { outcome: 'rotated', successor: { ...next } };
      });
    },

    async consumeOnce(consumedKey, expiresAt, now) {
      // Read, then write under the in-process lock: Keyv offers no set-if-absent, so only calls from
      // other processes sharing the backend can both get true.
      return withLocks([key.consumed(consumedKey)], async () => {
        const recordedUntil = await get<number>(key.consumed(consumedKey));
        if (recordedUntil !== undefined && recordedUntil > now) return false;
        await set(key.consumed(consumedKey), expiresAt, Math.max(1, expiresAt - now + EXPIRY_MARGIN_SECONDS));
        return true;
      });
    },

    async revokeRefreshTokenFamily(familyId, now) {
      const latest = (await get<number>(key.familyExpiry(familyId))) ?? now;
      const ttlSeconds = Math.max(FAMILY_REVOCATION_MIN_SECONDS, latest - now + EXPIRY_MARGIN_SECONDS);
      await set(key.familyRevoked(familyId), now, ttlSeconds);
    },

    ensureSigningKey(candidate) {
      return withLocks([key.signingKeys(candidate.use)], async () => {
        const stored = (await get<SigningKeyRecord[]>(key.signingKeys(candidate.use))) ?? [];
        const newest = storeKit.sortedBy(stored, storeKit.newestSigningKeyFirst)[0];
        if (newest) return newest;
        await set(key.signingKeys(candidate.use), [candidate]);
        return candidate;
      });
    },

    addSigningKey(record) {
      return withLocks([key.signingKeys(record.use)], async () => {
        const stored = (await get<SigningKeyRecord[]>(key.signingKeys(record.use))) ?? [];
        if (stored.some((existing) => existing.kid === record.kid)) return;
        await set(key.signingKeys(record.use), [...stored, record]);
      });
    },

    async listSigningKeys(use) {
      return storeKit.sortedBy(
        (await get<SigningKeyRecord[]>(key.signingKeys(use))) ?? [],
        storeKit.newestSigningKeyFirst,
      );
    },
  };
}

/** What a used token's key holds until the token would have expired. */
interface UsedRefreshToken {
  familyId: string;
  successorJti: string;
}

// The per-subscription delivery list keeps this many ids; it is read and rewritten whole.
const MAX_LISTED_DELIVERIES = 100;

/** The issuer fields organization records carried before issuer registrations. */
interface LegacyIssuerFields {
  issuer: string;
  clientIds: string[];
  allowedAlgorithms: string[];
  emailLinking: EmailLinkingPolicy;
}

interface OrgIssuerEntry {
  registrationId: string;
  issuer: string;
}

function indexEntry(registration: IssuerRegistrationRecord): OrgIssuerEntry {
  return { registrationId: registration.registrationId, issuer: registration.issuer };
}

/** The organization without the issuer fields records carried before issuer registrations. */
function organizationFields(org: OrganizationRecord): OrganizationRecord {
  return storeKit.withOrganizationDefaults({
    orgId: org.orgId,
    name: org.name,
    audience: org.audience,
    provisioning: org.provisioning,
    suspendedAt: org.suspendedAt,
    createdAt: org.createdAt,
    updatedAt: org.updatedAt,
  });
}
