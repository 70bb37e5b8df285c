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
  /** Audience scopes put in access tokens; always contains `identity`. */
  audience: string[];
  /** Whether a first exchange may create a user. Organizations stored before it existed read as `create`. */
  provisioning: ProvisioningMode;
  /**
   * Set while the organization is suspended: no exchange, refresh or org-scoped call succeeds and
   * its access tokens are refused. Organizations stored before it existed read as `null`.
   */
  suspendedAt: number | null;
  /**
   * RFC 9449 §5.2: its access tokens must be DPoP-bound, so the token endpoint refuses a request
   * without a proof and the seed exchange refuses the organization. Organizations stored before it
   * existed, and records written without it, read as `false`.
   */
  dpopBoundAccessTokens?: boolean;
  /**
   * Issuer registrations removed with their sessions ended: refresh tokens of families begun with
   * one of them are refused. Entries older than any such token are pruned when it is written.
   * Absent on organizations stored before it existed and on those that never ended any.
   */
  endedRegistrations?: EndedRegistration[];
  createdAt: number;
  updatedAt: number;
}

/** An issuer registration whose refresh families were ended when it was removed, and when. */
export interface EndedRegistration {
  registrationId: string;
  endedAt: number;
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
    'name' | 'audience' | 'provisioning' | 'suspendedAt' | 'dpopBoundAccessTokens' | 'endedRegistrations'
  >
>;

/**
 * One IdP an organization trusts. An org may register several issuers; an issuer may be registered
 * by several orgs as long as each names its `clientIds` and no client id is claimed twice for one
 * issuer. The organization's users stay keyed by (org, issuer, subject value).
 */
export interface IssuerRegistrationRecord {
  /** UUID. Registrations carried over from the single-issuer schema use their org id. */
  registrationId: string;
  orgId: string;
  /** The IdP's issuer URL, normalized (no trailing slash). */
  issuer: string;
  /**
   * The clients of this issuer whose ID tokens the org accepts. Empty means any client of the
   * issuer, which also claims the whole issuer: no other org can register it.
   */
  clientIds: string[];
  /** Asymmetric JWS algorithms accepted on ID tokens of this issuer. */
  allowedAlgorithms: string[];
  emailLinking: EmailLinkingPolicy;
  /** The claim that identifies a user at this issuer: `sub`, or e.g. `oid` for Azure AD. */
  subjectClaim: string;
  /** Whether an email taken from `preferred_username` or `upn` may link to an existing user. */
  trustUsernameClaims: boolean;
  /**
   * The exchange policy (docs/exchange-policy.md). Absent on registrations stored before policies,
   * which read as version 0 with neither condition nor mappings (`storeKit.policyOf`).
   */
  policy?: IssuerPolicyRecord;
  createdAt: number;
  updatedAt: number;
}

/** The exchange policy of an issuer registration: CEL sources, as registered, and their version. */
export interface IssuerPolicyRecord {
  /** A CEL expression that must be true for an exchange to go on; `null` when there is none. */
  condition: string | null;
  /** Access-token claim name -> CEL expression; `{}` when there are none. */
  claimMappings: Record<string, string>;
  /**
   * Which existing users linking by email may join an identity of this issuer to (`LinkScope`).
   * Absent on registrations stored before it existed, which read as `org` (`storeKit.linkScopeOf`).
   */
  linkScope?: LinkScope;
  /**
   * 1 for a new registration, one more on each change: compiled policies are cached by
   * (registration, version), and a refusal names the version that refused.
   */
  version: number;
}

/**
 * `issuer`: an identity of this issuer may be linked by email only to a user first seen through
 * this same registration, or to one created beforehand that no identity has claimed yet.
 * `org`: to any user of the organization (the behaviour before link scopes existed).
 */
export type LinkScope = 'issuer' | 'org';

/**
 * Why a registration was refused; nothing was written.
 * - `duplicate`: the org already registers this issuer.
 * - `issuer_taken`: another org registers the issuer without client ids, or this registration names
 *   none while the issuer is registered already.
 * - `client_id_taken`: another registration of this issuer claims one of the client ids.
 */
export type IssuerRegistrationConflict = 'duplicate' | 'issuer_taken' | 'client_id_taken';

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
  /** As `normalizeEmail` leaves it: trimmed, ASCII letters lower-cased. Unique within an org. */
  email: string;
  /** Users created before roles existed read back as `member`. */
  role: UserRole;
  /**
   * The issuer registration the user was first seen through: the one whose exchange created it, or
   * whose identity first claimed it by email. `null` for a user created beforehand (`createUser`)
   * that no identity has claimed yet. Absent on users stored before it existed: unknown, so an
   * issuer with link scope `issuer` never links to them.
   */
  firstSeenThrough?: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface FindOrCreateUserInput {
  orgId: string;
  /** The identity: issuer and subject from the verified ID token. */
  iss: string;
  /** The value of the issuer registration's subject claim. */
  sub: string;
  /**
   * The name of that claim. An identity is `(orgId, iss, subjectClaim, sub)`: the same value under
   * another claim (an `oid` equal to someone's `sub`) is another identity. Derive keys with
   * `storeKit.identityKey`, which spells `sub` identities as before this field existed.
   * @default 'sub'
   */
  subjectClaim?: string;
  /** Normalized email from the ID token. */
  email: string;
  /** Whether an identity seen for the first time may be linked to an existing user with this email. */
  mayLinkByEmail: boolean;
  /**
   * The issuer registration the identity comes through. A user claimed by email for the first
   * time (`firstSeenThrough: null`) records it as its `firstSeenThrough`, in the same atomic step
   * as the link.
   */
  registrationId?: string;
  /**
   * Link scope `issuer` (`storeKit.mayLinkWithinScope`): linking by email joins only a user whose
   * `firstSeenThrough` is `registrationId` or `null`; any other user with the email is a
   * `conflict`, and nothing is written. @default false
   */
  linkWithinRegistration?: boolean;
  /**
   * Whether a user may be created when neither the identity nor the email is known (`link_only`
   * organizations pass `false`). When `false`, such a call writes nothing and answers
   * `not_provisioned`. @default true
   */
  mayCreate?: boolean;
  /**
   * The user to store if one is created, built whole by core (id, role, the verification state of
   * a new user, timestamps; its `orgId` and `email` are the input's): the store persists it as given.
   */
  newUser: UserRecord;
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
  /**
   * The identity was new, a user with the email exists, and `mayLinkByEmail` was false or the link
   * scope kept it from that user. Nothing was written.
   */
  | { outcome: 'conflict' }
  /** Neither identity nor email was known and `mayCreate` was false. Nothing was written. */
  | { outcome: 'not_provisioned' };

/** An identity linked to a user: the issuer, the claim its subject is read from, and the value. */
export interface UserIdentityRecord {
  iss: string;
  /** Identities stored before claim names existed read back as `sub`. */
  subjectClaim: string;
  sub: string;
  /** When it was linked, where the store keeps that (SQL); absent otherwise. */
  linkedAt?: number;
}

export interface RefreshTokenRecord {
  jti: string;
  /** Every token obtained by refreshing descends from one exchange; they share this id. */
  familyId: string;
  orgId: string;
  userId: string;
  /** Its `iat`. With `kid`, lets core sign the very same token again for a retried refresh. */
  issuedAt: number;
  expiresAt: number;
  /** The `kid` of the refresh secret that signed it. */
  kid: string;
}

export interface ListRefreshFamiliesInput {
  orgId: string;
  userId: string;
  now: number;
  /** At most this many families are returned. */
  limit: number;
}

/** A refresh-token family that can still be refreshed: one signed-in session of a user. */
export interface RefreshFamilySummary {
  familyId: string;
  /** `issuedAt` of its live token: when the session last refreshed, or began if it never did. */
  lastIssuedAt: number;
  /** When that token expires, which ends the session unless it refreshes first. */
  expiresAt: number;
}

export interface RotateRefreshTokenInput {
  /** The presented token. */
  jti: string;
  /** Its replacement, built by core: same family, org and user, `issuedAt` = `now`. */
  successor: RefreshTokenRecord;
  now: number;
  /**
   * How long after its successor was issued a retry of the same token still gets that successor
   * instead of counting as reuse; 0 turns retries into reuse.
   */
  graceSeconds: number;
}

export interface RefreshTokenLivenessQuery {
  jti: string;
  /** The token's family, from its signed `fid` claim (stores keep a family's tokens together). */
  familyId: string;
  now: number;
}

export type RotateRefreshTokenResult =
  /** The token was live: it is now used, and `successor` (the input's) is stored, in one step. */
  | { outcome: 'rotated'; successor: RefreshTokenRecord }
  /**
   * The token was rotated before, `now` is within the grace window of that rotation, and the stored
   * successor has not been used: this is it (nothing was written).
   */
  | { outcome: 'retried'; successor: RefreshTokenRecord }
  /** The token was rotated before, and the window has closed or its successor was used. Nothing was written. */
  | { outcome: 'reused' }
  /**
   * The store holds no live record for it: never saved, expired, its family revoked, or it was
   * used before this store could report it (tokens rotated by a release without the grace window).
   * Nothing was written.
   */
  | { outcome: 'unknown' };

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
 * One request against a rate limit, by the generic cell rate algorithm (GCRA). Core chooses every
 * parameter; the store only applies this step atomically.
 */
export interface RateLimitHit {
  /** Names the limited subject, e.g. `org:<orgId>`; at most 160 ASCII characters. */
  key: string;
  /** Milliseconds one admitted request adds to the key's theoretical arrival time. */
  intervalMs: number;
  /** How far ahead of `nowMs` the theoretical arrival time may run: the burst, in milliseconds. */
  toleranceMs: number;
  /** The caller's clock, epoch milliseconds. */
  nowMs: number;
}

/** What `hitRateLimit` decided, and the key's theoretical arrival time after the step. */
export interface RateLimitHitResult {
  allowed: boolean;
  /** Epoch milliseconds; on refusal, the unchanged stored value. */
  theoreticalArrivalMs: number;
}

/**
 * Where a paged listing resumes: strictly after the record with this `createdAt` and id, in the
 * listing's order. Core encodes it in the opaque cursor callers pass back.
 */
export interface ListingPosition {
  createdAt: number;
  /** The `orgId` or `userId` of the last record of the previous page. */
  id: string;
}

export interface ListOrganizationsInput {
  /**
   * `null` lists every organization; otherwise only those whose `orgId` equals it or whose `name`
   * contains it, ASCII letters compared case-insensitively (`storeKit.matchesOrganizationQuery`;
   * other letters may or may not be folded, as the backend does). Core trims it and never passes `''`.
   */
  query: string | null;
  /** `null` for the first page. */
  after: ListingPosition | null;
  /** Most records to return; core asks for one more than a page to know whether another follows. */
  limit: number;
}

export interface ListUsersInput {
  orgId: string;
  /**
   * `null` lists every user of the org; otherwise only users whose `userId` equals it or whose
   * `email` starts with it, comparing code units (`storeKit.matchesUserQuery`; core lower-cases
   * ASCII letters as `normalizeEmail` does, so it compares like stored emails).
   */
  query: string | null;
  /** `null` for the first page. */
  after: ListingPosition | null;
  limit: number;
}

export interface RedeliverWebhookDeliveryInput {
  orgId: string;
  subscriptionId: string;
  deliveryId: string;
  now: number;
}

/**
 * A signed-in session of the admin console. The session id itself lives only in the browser's
 * cookie; the store keeps its hash, so a copy of the store cannot be used to sign in.
 */
export interface ConsoleSessionRecord {
  /** Hex SHA-256 of the session id; the record's key. At most 128 ASCII characters. */
  sessionHash: string;
  /**
   * Names the admin credential that signed in (e.g. a keyed hash of the admin token): core refuses a
   * session whose credential is no longer the current one, so rotating the admin token ends it.
   */
  credentialFingerprint: string;
  createdAt: number;
  /** The session is gone once `now` reaches it: never returned, and dropped by the store on its own. */
  expiresAt: number;
}

/** Organizations with their issuer registrations and API keys. */
export interface OrganizationStore {
  /**
   * Stores an organization together with its first API key and its first issuer registration,
   * atomically, under the rules of `addIssuerRegistration`.
   * @returns the conflict (and writes nothing) when the registration is refused.
   */
  createOrganization(
    org: OrganizationRecord,
    firstKey: ApiKeyRecord,
    firstIssuer: IssuerRegistrationRecord,
  ): Promise<'created' | Exclude<IssuerRegistrationConflict, 'duplicate'>>;

  /** @returns the organization, or `null`. */
  getOrganization(orgId: string): Promise<OrganizationRecord | null>;

  /**
   * Applies `patch` and sets `updatedAt`, as `storeKit.applyOrganizationPatch` does.
   * @returns the updated organization, or `null` when it does not exist.
   */
  updateOrganization(
    orgId: string,
    patch: OrganizationPatch,
    now: number,
  ): Promise<OrganizationRecord | null>;

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
   * Adds an issuer registration to an existing organization (the caller checks it exists),
   * atomically with its uniqueness checks, in this order: one registration per (org, issuer)
   * (`duplicate`); a registration without client ids is the issuer's only one, and none can join
   * it (`issuer_taken`); one (issuer, client id) pair per registration (`client_id_taken`). Of
   * concurrent calls claiming the same pair, exactly one gets `added`.
   */
  addIssuerRegistration(record: IssuerRegistrationRecord): Promise<'added' | IssuerRegistrationConflict>;

  /**
   * @returns the organization's registrations in `storeKit.oldestRegistrationFirst` order (oldest
   *   `createdAt` first, ties by `registrationId`); `[]` when there are none.
   */
  listIssuerRegistrations(orgId: string): Promise<IssuerRegistrationRecord[]>;

  /**
   * @returns every organization's registrations of exactly this issuer (no case folding, no
   *   trailing-slash tolerance), in `storeKit.oldestRegistrationFirst` order; `[]` when there are none.
   */
  findIssuerRegistrations(issuer: string): Promise<IssuerRegistrationRecord[]>;

  /**
   * Replaces a registration's exchange policy if its stored version (0 when it has none) is
   * `policy.version - 1`, and sets `updatedAt`, atomically: of concurrent changes from one version,
   * exactly one is stored. The registration is then read with the new policy by
   * `listIssuerRegistrations` and `findIssuerRegistrations`.
   * @returns the updated registration; `'not_found'` when `orgId` has no such registration;
   *   `'version_conflict'` (and writes nothing) when the stored version is another
   */
  replaceIssuerPolicy(
    orgId: string,
    registrationId: string,
    policy: IssuerPolicyRecord,
    now: number,
  ): Promise<IssuerRegistrationRecord | 'not_found' | 'version_conflict'>;

  /**
   * Removes a registration and releases its issuer and client ids for other registrations, atomically.
   * @returns `false` when `orgId` has no such registration.
   */
  removeIssuerRegistration(orgId: string, registrationId: string): Promise<boolean>;

  /**
   * One page of organizations, newest first (`storeKit.newestOrganizationFirst`: newest `createdAt`
   * first, ties by `orgId` descending), those matching `query` only, starting strictly after
   * `after`, at most `limit`. Paging through with the last record of each page as the next `after`
   * lists every organization that existed throughout exactly once, however many there are.
   * @returns `[]` when none is left
   */
  listOrganizations(input: ListOrganizationsInput): Promise<OrganizationRecord[]>;

  /** Stores another key for an existing organization. */
  addApiKey(key: ApiKeyRecord): Promise<void>;

  /**
   * @returns the organization's keys that are not revoked, in `storeKit.oldestApiKeyFirst` order
   *   (oldest `createdAt` first, ties by `keyId`); `[]` when there are none.
   */
  listActiveApiKeys(orgId: string): Promise<ApiKeyRecord[]>;

  /**
   * Marks a key revoked.
   * @returns `false` when the org has no such key or it was already revoked.
   */
  revokeApiKey(orgId: string, keyId: string, now: number): Promise<boolean>;
}

/** Users and the identities linked to them; calls that change a user record its webhook events atomically. */
export interface UserStore {
  /**
   * Finds the user of an identity, or links or creates one, atomically.
   *
   * Lookup order: the identity `(orgId, iss, sub)`, then the email within `orgId`. Concurrent calls
   * for the same identity or the same email all resolve to one user: exactly one caller sees
   * `created`, the others `existing` or `linked`. Users of other organizations are never matched.
   * With `mayLinkByEmail` and `mayCreate` both `false` the call writes nothing, whatever it finds:
   * the token debugger looks users up that way.
   */
  findOrCreateUser(input: FindOrCreateUserInput): Promise<FindOrCreateUserResult>;

  /** @returns the user if it belongs to `orgId`, otherwise `null` (also for another org's user). */
  getUser(orgId: string, userId: string): Promise<UserRecord | null>;

  /**
   * One page of an organization's users, newest first (`storeKit.newestUserFirst`: newest
   * `createdAt` first, ties by `userId` descending), those matching `query` only, starting strictly
   * after `after`, at most `limit`; never another org's users.
   * @returns `[]` when none is left
   */
  listUsers(input: ListUsersInput): Promise<UserRecord[]>;

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
   * Sets a user's role and `updatedAt`, atomically with respect to other changes of the user: a
   * concurrent verification change is neither lost nor loses the role.
   * @returns the updated user, or `null` (writing nothing) when `orgId` has no such user.
   */
  setUserRole(input: SetUserRoleInput): Promise<UserRecord | null>;

  /**
   * The identities linked to a user of `orgId`, ordered by `iss`, then `subjectClaim`, then `sub`.
   * @returns `[]` for an unknown user or another org's user
   */
  listIdentities(orgId: string, userId: string): Promise<UserIdentityRecord[]>;
}

/** Refresh-token families and single-use ID-token keys. */
export interface TokenStore {
  /** Records an issued refresh token. It may be dropped by the store after `expiresAt`. */
  saveRefreshToken(record: RefreshTokenRecord): Promise<void>;

  /**
   * Uses a refresh token and stores its successor as one atomic step: of any number of concurrent
   * calls for one live token (on any number of instances), exactly one answers `rotated`, and a
   * token is never marked used without its successor being stored, nor the reverse. Later calls
   * are classified without writing anything: `retried` with the stored successor while `now` is
   * before `successor.issuedAt + graceSeconds` and that successor is itself unused and its family
   * not revoked; `reused` after that; `unknown` when no live record exists.
   *
   * The same call applied twice (a command that timed out in the client but ran later, then its
   * retry) therefore answers `rotated`, then `retried` with the same successor. A used token's
   * record is kept at least until its own `expiresAt`, so reuse is told apart from `unknown` for
   * that long.
   */
  rotateRefreshToken(input: RotateRefreshTokenInput): Promise<RotateRefreshTokenResult>;

  /** Revokes every refresh token of a family, including ones issued later with the same family id. */
  revokeRefreshTokenFamily(familyId: string, now: number): Promise<void>;

  /**
   * Whether a refresh token would still rotate: saved, not used yet, `now` before its `expiresAt`,
   * and its family not revoked. Writes nothing; introspection (RFC 7662) asks it. A used token
   * whose retry the grace window would still answer is not live: it was used.
   */
  isRefreshTokenLive(input: RefreshTokenLivenessQuery): Promise<boolean>;

  /**
   * The families of a user of `orgId` that hold a live token (saved, unused, `now` before its
   * `expiresAt`, family not revoked), newest `lastIssuedAt` first, ties by `familyId` descending,
   * at most `limit`. Never another org's families. Redis and Keyv find a user's families through
   * an index written since this method exists: older families appear once they next rotate.
   */
  listRefreshFamilies(input: ListRefreshFamiliesInput): Promise<RefreshFamilySummary[]>;

  /**
   * Records a single-use key (core passes a hex SHA-256 naming one ID token) until `expiresAt`,
   * atomically: of every call with the same `key` while it is recorded, exactly one gets `true`;
   * every later or concurrent call gets `false`, also from other processes on the same backend.
   * Once a call's `now` has reached the recorded `expiresAt`, the key is free again: that call
   * records it anew and gets `true`. Stores drop expired keys on their own.
   * @param key at most 128 ASCII characters
   * @returns `true` when this call recorded the key, `false` when it was already recorded
   */
  consumeOnce(key: string, expiresAt: number, now: number): Promise<boolean>;
}

/** The keys that sign access and refresh tokens, shared by every instance. */
export interface SigningKeyStore {
  /**
   * Makes sure a key for `candidate.use` exists: stores `candidate` when there is none, atomically.
   * When several instances call this at once on an empty store, exactly one candidate is kept and
   * all of them get it back.
   * @returns the first key for that use in `listSigningKeys` order (the candidate or the one already stored).
   */
  ensureSigningKey(candidate: SigningKeyRecord): Promise<SigningKeyRecord>;

  /**
   * Stores another key for `record.use`, e.g. when rotating: once its `createdAt` is the latest, it is
   * the key `ensureSigningKey` returns and `listSigningKeys` lists first. When a key with this `kid` is
   * already stored for that use, the stored one is left unchanged.
   */
  addSigningKey(record: SigningKeyRecord): Promise<void>;

  /**
   * @returns every stored key for `use` in `storeKit.newestSigningKeyFirst` order (newest `createdAt`
   *   first, ties by `kid` descending); `[]` when there are none.
   */
  listSigningKeys(use: SigningKeyUse): Promise<SigningKeyRecord[]>;
}

/** Webhook subscriptions and the outbox of their deliveries. */
export interface WebhookStore {
  /** Stores a new webhook subscription. */
  createWebhookSubscription(record: WebhookSubscriptionRecord): Promise<void>;

  /** @returns the subscription if it belongs to `orgId`, otherwise `null` (also for another org's). */
  getWebhookSubscription(orgId: string, subscriptionId: string): Promise<WebhookSubscriptionRecord | null>;

  /**
   * @returns the org's subscriptions in `storeKit.oldestSubscriptionFirst` order (oldest `createdAt`
   *   first, ties by `subscriptionId`); `[]` when there are none.
   */
  listWebhookSubscriptions(orgId: string): Promise<WebhookSubscriptionRecord[]>;

  /**
   * Applies `patch` and sets `updatedAt`, as `storeKit.applyWebhookSubscriptionPatch` does.
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
   * Records events in the outbox, fanned out at write time by `storeKit.webhookDeliveriesFor`: one
   * `pending` delivery, due at the event's `createdAt`, per subscription of the event's org that is
   * not disabled and lists the event's type or `*`. An event no subscription matches leaves nothing behind. All deliveries of
   * one call are written atomically.
   */
  enqueueWebhookEvents(events: WebhookEventRecord[]): Promise<void>;

  /** Stores one delivery as given, e.g. a test ping already leased by the caller that sends it at once. */
  addWebhookDelivery(record: WebhookDeliveryRecord): Promise<void>;

  /**
   * Claims up to `limit` `pending` deliveries whose `nextAttemptAt` has come and that no worker
   * holds (no lease, or an expired one, `storeKit.isClaimable`), in `storeKit.earliestDueDeliveryFirst`
   * order (ties by `deliveryId`), atomically: concurrent callers never
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

  /**
   * @returns the subscription's most recent deliveries, at most `limit`, in
   *   `storeKit.newestDeliveryFirst` order (newest `createdAt` first, ties by `deliveryId`
   *   descending); `[]` when none.
   */
  listWebhookDeliveries(
    orgId: string,
    subscriptionId: string,
    limit: number,
  ): Promise<WebhookDeliveryRecord[]>;

  /**
   * Makes a delivery of `subscriptionId` in `orgId` due again, as `storeKit.redelivered` rewrites it:
   * one that is finished (`failed` or `succeeded`) or waiting for a retry becomes `pending`, due at
   * `now`, its attempts kept; one a worker holds (a live lease) is left as it is, since its attempt
   * is under way. Atomic with respect to claims and completions; calling it again changes nothing more.
   * @returns the delivery as stored afterwards, or `null` when the subscription of `orgId` has no such delivery
   */
  redeliverWebhookDelivery(input: RedeliverWebhookDeliveryInput): Promise<WebhookDeliveryRecord | null>;

  /**
   * Optional: the outbox backlog, for the webhook backlog metric: how many deliveries of every
   * organization a worker could claim at `now` (`storeKit.isClaimable`: pending, due, no live
   * lease). A store may count a delivery whose record it has dropped until a claim tidies it away.
   * Stores that leave it out report no backlog.
   */
  countPendingWebhookDeliveries?(now: number): Promise<number>;
}

/** Sessions of the admin console, shared by every instance so that signing out ends one everywhere. */
export interface ConsoleSessionStore {
  /** Stores a session (replacing one with the same `sessionHash`). */
  saveConsoleSession(record: ConsoleSessionRecord): Promise<void>;

  /** @returns the session, or `null` when there is none or `now` has reached its `expiresAt`. */
  getConsoleSession(sessionHash: string, now: number): Promise<ConsoleSessionRecord | null>;

  /**
   * Ends a session on every instance.
   * @returns `false` when the store held no such session (an expired one it has not dropped yet may count as held)
   */
  deleteConsoleSession(sessionHash: string): Promise<boolean>;
}

/** Optional: rate limits shared by every process on the backend. */
export interface RateLimitStore {
  /**
   * Optional: a rate limit shared by every process on this backend. Applies one GCRA step to
   * `hit.key`, atomically: let `next = max(stored ?? nowMs, nowMs) + intervalMs`; when
   * `next - nowMs <= toleranceMs` the store keeps `next` and answers `allowed: true`, otherwise it
   * changes nothing and answers `allowed: false`. Of concurrent hits on one key (from any process)
   * exactly as many are allowed as fit the tolerance. A key may be dropped once its stored time has
   * passed. Core may buy several requests in one hit (a lease: `intervalMs` that many intervals),
   * so one key sees different `intervalMs`; apply each hit's own. Stores that cannot do this in one
   * atomic step (Keyv) or that live in one process (memory) leave it out; core then keeps the limit
   * in process.
   */
  hitRateLimit?(hit: RateLimitHit): Promise<RateLimitHitResult>;
}

/**
 * Persistence for organizations, API keys, users, refresh tokens, signing keys, webhook
 * subscriptions, the webhook outbox and console sessions: every capability interface above, which core takes apart
 * by concern, and its lifecycle (`migrate`, `close`). Methods marked optional may be left out; core then falls
 * back as each one says.
 *
 * Implementations must be safe for concurrent use by several processes sharing one backend. They
 * persist and read the records core builds, applying the rules of `storeKit` (exported by
 * `@rialto-exchange/core`) rather than their own; `storeKit.createStoreRunner` gives each call its
 * deadline and maps backend outages to `StoreUnavailableError`.
 */
export interface Store
  extends OrganizationStore,
    UserStore,
    TokenStore,
    SigningKeyStore,
    WebhookStore,
    ConsoleSessionStore,
    RateLimitStore {
  /**
   * Brings the backend to the schema or key layout this release reads (creating or upgrading
   * tables, moving keys), and resolves once the store is ready to answer. Idempotent: calling it
   * again, or on an up-to-date backend, changes nothing. Safe when several instances call it at
   * once, on one process or many: they take turns (a database lock, a lock key) and all resolve
   * once the migration is done. Stores migrate on their first call unless told not to (`sqlStore`'s
   * `autoMigrate: false`), so hosts call it only to migrate from a release step, or to fail fast at
   * start-up. Stores with nothing to migrate resolve at once.
   * @throws StoreUnavailableError when the backend cannot be reached or the migration fails; a later
   *   call tries again
   */
  migrate(): Promise<void>;

  /**
   * Releases what the store opened (pools, connections, files, timers) once the calls already
   * running have settled, each within its deadline. Idempotent: every call resolves once the first
   * one is done. A store that released something rejects every later call, `migrate()` included,
   * with `StoreUnavailableError`. A client, pool or database the host passed in stays open, the
   * host's to close, and a store over one (like `memoryStore`, which holds nothing to release)
   * keeps answering after `close()`.
   */
  close(): Promise<void>;
}
