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
  createdAt: number;
  updatedAt: number;
}

/** The fields of an organization that can change after registration. */
export type OrganizationPatch = Partial<
  Pick<OrganizationRecord, 'name' | 'audience' | 'clientIds' | 'allowedAlgorithms' | 'emailLinking'>
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

export interface UserRecord {
  /** UUID. */
  userId: string;
  orgId: string;
  /** Normalized: trimmed, lower-cased, Unicode NFC. Unique within an org. */
  email: string;
  onboardingCompleted: boolean;
  kycCompleted: boolean;
  accredited: boolean;
  accreditationVerified: boolean;
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
  /** The id to give the user if one is created. */
  newUserId: string;
  now: number;
}

export type FindOrCreateUserResult =
  /** The identity was already linked to this user. */
  | { outcome: 'existing'; user: UserRecord }
  /** The identity was new and has been linked to the org's user with the same email. */
  | { outcome: 'linked'; user: UserRecord }
  /** Neither identity nor email was known: user and identity link were created together. */
  | { outcome: 'created'; user: UserRecord }
  /** The identity was new, a user with the email exists, and `mayLinkByEmail` was false. Nothing was written. */
  | { outcome: 'conflict' };

export interface RefreshTokenRecord {
  jti: string;
  /** Every token obtained by refreshing descends from one exchange; they share this id. */
  familyId: string;
  orgId: string;
  userId: string;
  expiresAt: number;
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
 * Persistence for organizations, API keys, users, refresh tokens and signing keys.
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
