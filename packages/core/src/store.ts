import type { JWK } from 'jose';

/*
 * The storage contract, stated as behaviour. Every adapter in @rialto-exchange/storage-adapters
 * passes the same conformance suite against a real backend.
 *
 * Conventions for every method:
 * - Timestamps are epoch seconds; durations are seconds.
 * - "Not found" is `null` (or `false` for boolean results), never an exception.
 * - Records passed in are copied: mutating them afterwards does not change what is stored, and
 *   records returned are never live references into the store.
 * - When the backend cannot be reached or fails mid-operation, the method rejects with
 *   `StoreUnavailableError` and leaves no partial write behind.
 */

/** How a new identity may be linked to an existing user of the same org with the same email. */
export type EmailLinkingPolicy =
  /** Link only when the ID token says `email_verified: true`. */
  | 'verified'
  /** Link unless the ID token says `email_verified: false` (IdPs such as Azure AD omit the claim). */
  | 'unless_unverified'
  /** Never link: a second identity with a known email is refused with `account_conflict`. */
  | 'never';

export interface OrganizationRecord {
  /** UUID. */
  orgId: string;
  name: string;
  /** The partner IdP's issuer URL, without a trailing slash. Unique across organizations. */
  issuer: string;
  /** Audience scopes put in access tokens; always contains `identity`. */
  audience: string[];
  /** When non-empty, an ID token's `aud` or `azp` must name one of these. */
  clientIds: string[];
  /** Asymmetric JWS algorithms accepted on this org's ID tokens. */
  allowedAlgorithms: string[];
  emailLinking: EmailLinkingPolicy;
  /** Whether a first exchange may create a user. Organizations stored before it existed read as `create`. */
  provisioning: ProvisioningMode;
  /**
   * Set while the organization is suspended: no exchange, refresh or org-scoped call succeeds and
   * its access tokens are refused. Organizations stored before it existed read as `null`.
   */
  suspendedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * `create`: a first exchange creates the user. `link_only`: only users created beforehand
 * (`createUser`) can sign in, claimed by an identity whose email may be linked.
 */
export type ProvisioningMode = 'create' | 'link_only';

/** The fields of an organization that can change after registration. */
export type OrganizationPatch = Partial<
  Pick<
    OrganizationRecord,
    'name' | 'audience' | 'clientIds' | 'allowedAlgorithms' | 'emailLinking' | 'provisioning' | 'suspendedAt'
  >
>;

export interface ApiKeyRecord {
  /** UUID, used to name the key when revoking it. */
  keyId: string;
  orgId: string;
  /** Hex SHA-256 of the full key. The key itself is never stored. */
  hash: string;
  createdAt: number;
  /** Set when revoked; a revoked key never authenticates again. */
  revokedAt: number | null;
}

/**
 * Where a user stands in KYC. `not_started` until a session is created; `approved` and `denied`
 * end a session; `resubmission_requested` sends the user back to submit their data again.
 */
export type KycStatus =
  | 'not_started'
  | 'session_created'
  | 'pii_submitted'
  | 'processing'
  | 'resubmission_requested'
  | 'approved'
  | 'denied';

/** Where a user stands in investor accreditation. */
export type AccreditationStatus = 'not_submitted' | 'submitted' | 'verified' | 'rejected';

/** The verification state of a user; the boolean token claims are derived from it. */
export interface UserVerification {
  onboardingCompleted: boolean;
  kycStatus: KycStatus;
  accreditationStatus: AccreditationStatus;
}

/**
 * What a user may do within its organization. `member` reaches its own user only; `org_admin`
 * also reads every user of the org and manages the org's webhooks, as the org's API key does.
 */
export type UserRole = 'member' | 'org_admin';

export interface UserRecord extends UserVerification {
  /** UUID. */
  userId: string;
  orgId: string;
  /** Normalized: trimmed, lower-cased, Unicode NFC. Unique within an org. */
  email: string;
  /** Users created before roles existed read back as `member`. */
  role: UserRole;
  createdAt: number;
  updatedAt: number;
}

export interface FindOrCreateUserInput {
  orgId: string;
  /** The identity: issuer and subject from the verified ID token. */
  iss: string;
  sub: string;
  /** Normalized email from the ID token. */
  email: string;
  /** Whether an identity seen for the first time may be linked to an existing user with this email. */
  mayLinkByEmail: boolean;
  /**
   * Whether a user may be created when neither the identity nor the email is known (`link_only`
   * organizations pass `false`). When `false`, such a call writes nothing and answers
   * `not_provisioned`. @default true
   */
  mayCreate?: boolean;
  /** The id to give the user if one is created. */
  newUserId: string;
  now: number;
  /**
   * Webhook events to record, as `enqueueWebhookEvents` does, in the same atomic operation, only
   * when this call creates the user (e.g. `user.created`). Ignored for `existing`, `linked` and `conflict`.
   */
  eventsIfCreated?: WebhookEventRecord[];
}

export type FindOrCreateUserResult =
  /** The identity was already linked to this user. */
  | { outcome: 'existing'; user: UserRecord }
  /** The identity was new and has been linked to the org's user with the same email. */
  | { outcome: 'linked'; user: UserRecord }
  /** Neither identity nor email was known: user and identity link were created together. */
  | { outcome: 'created'; user: UserRecord }
  /** The identity was new, a user with the email exists, and `mayLinkByEmail` was false. Nothing was written. */
  | { outcome: 'conflict' }
  /** Neither identity nor email was known and `mayCreate` was false. Nothing was written. */
  | { outcome: 'not_provisioned' };

export interface RefreshTokenRecord {
  jti: string;
  /** Every token obtained by refreshing descends from one exchange; they share this id. */
  familyId: string;
  orgId: string;
  userId: string;
  expiresAt: number;
}

export interface UpdateUserVerificationInput {
  orgId: string;
  userId: string;
  /** The state the caller read and validated the change against. */
  expected: UserVerification;
  next: UserVerification;
  now: number;
  /** Webhook events caused by the change, recorded (and fanned out) in the same atomic operation. */
  events: WebhookEventRecord[];
}

export interface SetUserRoleInput {
  orgId: string;
  userId: string;
  role: UserRole;
  now: number;
}

export interface CreateUserInput {
  /** The user to store; `email` normalized. It has no identity until a first exchange claims it. */
  user: UserRecord;
  /** Webhook events recorded (and fanned out) in the same atomic operation, e.g. `user.created`. */
  events: WebhookEventRecord[];
}

export interface DeleteUserInput {
  orgId: string;
  userId: string;
  /** Webhook events recorded (and fanned out) in the same atomic operation, e.g. `user.deleted`. */
  events: WebhookEventRecord[];
}

export type UpdateUserVerificationResult =
  /** The user was in `expected`; it is now in `next`, with `updatedAt` = `now`, and the events are recorded. */
  | { outcome: 'updated'; user: UserRecord }
  /** The user's state differs from `expected` (a concurrent change): nothing was written. */
  | { outcome: 'stale'; user: UserRecord }
  /** No such user in `orgId`: nothing was written. */
  | { outcome: 'not_found' };

/** An org's subscription to webhook event types. */
export interface WebhookSubscriptionRecord {
  /** UUID. */
  subscriptionId: string;
  orgId: string;
  /** Validated https URL (or http / private when the host allows it). */
  url: string;
  description: string | null;
  /** Event types delivered; `*` stands for every type. */
  eventTypes: string[];
  /** The `whsec_…` signing secret. Stores keep it as they keep any other secret. */
  secret: string;
  /** The secret replaced by the last rotation; deliveries are signed with it too until `previousSecretExpiresAt`. */
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  /** Set when the receiver answered 410 Gone; a disabled subscription gets no new deliveries. */
  disabledAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** The fields of a subscription that can change after creation. */
export type WebhookSubscriptionPatch = Partial<
  Pick<
    WebhookSubscriptionRecord,
    'eventTypes' | 'secret' | 'previousSecret' | 'previousSecretExpiresAt' | 'disabledAt'
  >
>;

/** One event, before fan-out to the org's subscriptions. */
export interface WebhookEventRecord {
  /** UUID; sent as `webhook-id`, the same for every subscriber and every retry. */
  eventId: string;
  orgId: string;
  type: string;
  /** The exact JSON body to send, so every attempt carries the same bytes. */
  payload: string;
  createdAt: number;
}

/** `pending` until an attempt succeeds (`succeeded`) or retries run out or the subscription is gone (`failed`). */
export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** What one attempt to deliver observed. */
export interface WebhookAttemptRecord {
  attemptedAt: number;
  durationMs: number;
  /** The receiver's HTTP status, or `null` when none was received (timeout, refused, DNS). */
  responseStatus: number | null;
  /** Why no response was received, or `null`. */
  error: string | null;
  /** At most the first 256 bytes of the response body, or `null`. */
  responseExcerpt: string | null;
}

/** One event on its way to one subscription: the outbox row the delivery worker claims. */
export interface WebhookDeliveryRecord {
  /** UUID. */
  deliveryId: string;
  subscriptionId: string;
  orgId: string;
  eventId: string;
  eventType: string;
  payload: string;
  status: WebhookDeliveryStatus;
  /** When the next attempt is due; `null` once the delivery is finished. */
  nextAttemptAt: number | null;
  /** Set while a worker holds the delivery; another worker may claim it once `leaseExpiresAt` has passed. */
  leaseToken: string | null;
  leaseExpiresAt: number | null;
  /** Every attempt so far, oldest first. */
  attempts: WebhookAttemptRecord[];
  createdAt: number;
  updatedAt: number;
}

export interface ClaimWebhookDeliveriesInput {
  now: number;
  /** Most deliveries to claim in one call. */
  limit: number;
  /** The claimed deliveries are held until `now + leaseSeconds`. */
  leaseSeconds: number;
  /** Unique per call; completing an attempt must present it. */
  leaseToken: string;
}

export interface CompleteWebhookAttemptInput {
  deliveryId: string;
  leaseToken: string;
  attempt: WebhookAttemptRecord;
  status: WebhookDeliveryStatus;
  /** When to try again (`status: 'pending'`), otherwise `null`. */
  nextAttemptAt: number | null;
  now: number;
}

/** What a signing key is for: RS/PS/ES/EdDSA access tokens, or the HMAC secret of refresh tokens. */
export type SigningKeyUse = 'access_token' | 'refresh_token';

export interface SigningKeyRecord {
  kid: string;
  use: SigningKeyUse;
  /** JWS algorithm, e.g. `RS256` or `HS256`. */
  alg: string;
  /** Private (or secret) key as a JWK. Stores keep it as they keep any other secret. */
  privateJwk: JWK;
  createdAt: number;
}

/**
 * Persistence for organizations, API keys, users, refresh tokens, signing keys, webhook
 * subscriptions and the webhook outbox.
 *
 * Implementations must be safe for concurrent use by several processes sharing one backend.
 */
export interface Store {
  /**
   * Stores an organization together with its first API key, atomically.
   * @returns `'issuer_taken'` (and writes nothing) when another organization already has this issuer.
   */
  createOrganization(org: OrganizationRecord, firstKey: ApiKeyRecord): Promise<'created' | 'issuer_taken'>;

  /** @returns the organization, or `null`. */
  getOrganization(orgId: string): Promise<OrganizationRecord | null>;

  /** @returns the organization registered for exactly this issuer (no trailing slash), or `null`. */
  findOrganizationByIssuer(issuer: string): Promise<OrganizationRecord | null>;

  /**
   * Applies `patch` and sets `updatedAt`.
   * @returns the updated organization, or `null` when it does not exist.
   */
  updateOrganization(
    orgId: string,
    patch: OrganizationPatch,
    now: number,
  ): Promise<OrganizationRecord | null>;

  /** Stores another key for an existing organization. */
  addApiKey(key: ApiKeyRecord): Promise<void>;

  /** @returns the organization's keys that are not revoked, oldest `createdAt` first; `[]` when there are none. */
  listActiveApiKeys(orgId: string): Promise<ApiKeyRecord[]>;

  /**
   * Marks a key revoked.
   * @returns `false` when the org has no such key or it was already revoked.
   */
  revokeApiKey(orgId: string, keyId: string, now: number): Promise<boolean>;

  /**
   * Finds the user of an identity, or links or creates one, atomically.
   *
   * Lookup order: the identity `(orgId, iss, sub)`, then the email within `orgId`. Concurrent calls
   * for the same identity or the same email all resolve to one user: exactly one caller sees
   * `created`, the others `existing` or `linked`. Users of other organizations are never matched.
   */
  findOrCreateUser(input: FindOrCreateUserInput): Promise<FindOrCreateUserResult>;

  /** @returns the user if it belongs to `orgId`, otherwise `null` (also for another org's user). */
  getUser(orgId: string, userId: string): Promise<UserRecord | null>;

  /** @returns the user whatever its organization, or `null`; for admin routes only. */
  getUserById(userId: string): Promise<UserRecord | null>;

  /**
   * Compare-and-set of a user's verification state, together with the events it causes, atomically:
   * either the state changes and every event is recorded (fanned out as `enqueueWebhookEvents`
   * does), or nothing is written. Of concurrent calls with the same `expected`, exactly one gets
   * `updated`; the others get `stale` with the current user.
   */
  updateUserVerification(input: UpdateUserVerificationInput): Promise<UpdateUserVerificationResult>;

  /**
   * Stores a user that no identity is linked to yet, with its email index entry and `events`,
   * atomically. A later `findOrCreateUser` with this email may link to it like to any other user.
   * @returns `'email_taken'`, writing nothing, when the org already has a user with this email;
   * of concurrent calls for one email, exactly one gets `'created'`.
   */
  createUser(input: CreateUserInput): Promise<'created' | 'email_taken'>;

  /**
   * Removes a user, its identity links and its email index entry, and records `events`, so that a
   * later `findOrCreateUser` for any of its identities or its email creates a new user. The user
   * record and email entry go atomically with the events; an identity link the store cannot remove
   * in that operation (Redis, Keyv: they are found by scanning) may stay behind, and
   * `findOrCreateUser` treats a link to a missing user as absent. Refresh tokens naming the user may
   * stay until they expire: nothing mints from them once the user is gone.
   * @returns `false`, writing nothing, when `orgId` has no such user
   */
  deleteUser(input: DeleteUserInput): Promise<boolean>;

  /**
   * Removes an organization and everything stored for it: API keys, the issuer index, users,
   * identity links, email index entries, webhook subscriptions and deliveries, and its refresh
   * tokens where the store can find them (SQL, memory; Redis and Keyv let them expire by their TTL:
   * nothing mints from a token whose organization and user are gone).
   * The organization record, its API keys, issuer entry and webhooks go first, atomically, so every
   * reader sees it gone at once; per-user data follows (atomically in SQL, in resumable passes in
   * Redis and Keyv). Calling it again finishes a removal an outage interrupted.
   * @returns `false` when no organization record had this id (leftovers are still removed)
   */
  deleteOrganization(orgId: string): Promise<boolean>;

  /**
   * Sets a user's role and `updatedAt`, atomically with respect to other changes of the user: a
   * concurrent verification change is neither lost nor loses the role.
   * @returns the updated user, or `null` (writing nothing) when `orgId` has no such user.
   */
  setUserRole(input: SetUserRoleInput): Promise<UserRecord | null>;

  /** Stores a new webhook subscription. */
  createWebhookSubscription(record: WebhookSubscriptionRecord): Promise<void>;

  /** @returns the subscription if it belongs to `orgId`, otherwise `null` (also for another org's). */
  getWebhookSubscription(orgId: string, subscriptionId: string): Promise<WebhookSubscriptionRecord | null>;

  /** @returns the org's subscriptions, oldest `createdAt` first; `[]` when there are none. */
  listWebhookSubscriptions(orgId: string): Promise<WebhookSubscriptionRecord[]>;

  /**
   * Applies `patch` and sets `updatedAt`.
   * @returns the updated subscription, or `null` when `orgId` has no such subscription.
   */
  updateWebhookSubscription(
    orgId: string,
    subscriptionId: string,
    patch: WebhookSubscriptionPatch,
    now: number,
  ): Promise<WebhookSubscriptionRecord | null>;

  /**
   * Deletes a subscription. Its pending deliveries stay in the outbox; the worker marks them
   * `failed` when it finds the subscription gone.
   * @returns `false` when `orgId` has no such subscription.
   */
  deleteWebhookSubscription(orgId: string, subscriptionId: string): Promise<boolean>;

  /**
   * Records events in the outbox, fanned out at write time: one `pending` delivery, due at the
   * event's `createdAt`, per subscription of the event's org that is not disabled and lists the
   * event's type or `*`. An event no subscription matches leaves nothing behind. All deliveries of
   * one call are written atomically.
   */
  enqueueWebhookEvents(events: WebhookEventRecord[]): Promise<void>;

  /** Stores one delivery as given, e.g. a test ping already leased by the caller that sends it at once. */
  addWebhookDelivery(record: WebhookDeliveryRecord): Promise<void>;

  /**
   * Claims up to `limit` `pending` deliveries whose `nextAttemptAt` has come and that no worker
   * holds (no lease, or an expired one), earliest due first, atomically: concurrent callers never
   * get the same delivery while its lease runs.
   * @returns the claimed deliveries, with `leaseToken` and `leaseExpiresAt` set; `[]` when none is due.
   */
  claimWebhookDeliveries(input: ClaimWebhookDeliveriesInput): Promise<WebhookDeliveryRecord[]>;

  /**
   * Appends an attempt to a delivery, sets its status and next due time and releases the lease, if
   * `leaseToken` still holds it.
   * @returns `false`, writing nothing, when the delivery is unknown or its lease was lost to another worker.
   */
  completeWebhookAttempt(input: CompleteWebhookAttemptInput): Promise<boolean>;

  /** @returns the subscription's most recent deliveries, newest `createdAt` first, at most `limit`; `[]` when none. */
  listWebhookDeliveries(
    orgId: string,
    subscriptionId: string,
    limit: number,
  ): Promise<WebhookDeliveryRecord[]>;

  /** Records an issued refresh token. It may be dropped by the store after `expiresAt`. */
  saveRefreshToken(record: RefreshTokenRecord): Promise<void>;

  /**
   * Consumes a refresh token, atomically: exactly one caller gets the record; every later or
   * concurrent call gets `null`. Also `null` when unknown, expired, or its family is revoked.
   */
  consumeRefreshToken(jti: string, now: number): Promise<RefreshTokenRecord | null>;

  /** Revokes every refresh token of a family, including ones issued later with the same family id. */
  revokeRefreshTokenFamily(familyId: string, now: number): Promise<void>;

  /**
   * Makes sure a key for `candidate.use` exists: stores `candidate` when there is none, atomically.
   * When several instances call this at once on an empty store, exactly one candidate is kept and
   * all of them get it back.
   * @returns the newest key for that use (the candidate or the one already stored).
   */
  ensureSigningKey(candidate: SigningKeyRecord): Promise<SigningKeyRecord>;

  /**
   * Stores another key for `record.use`, e.g. when rotating: once its `createdAt` is the latest, it is
   * the key `ensureSigningKey` returns and `listSigningKeys` lists first. When a key with this `kid` is
   * already stored for that use, the stored one is left unchanged.
   */
  addSigningKey(record: SigningKeyRecord): Promise<void>;

  /** @returns every stored key for `use`, newest `createdAt` first; `[]` when there are none. */
  listSigningKeys(use: SigningKeyUse): Promise<SigningKeyRecord[]>;
}
