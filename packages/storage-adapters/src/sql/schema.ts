import type { ColumnType } from 'kysely';

/** Epoch seconds in a BIGINT column: `pg` reads int8 as a string, the other drivers as a number. */
type EpochSeconds = ColumnType<number | string, number, number>;
type NullableEpochSeconds = ColumnType<number | string | null, number | null, number | null>;
/** BOOLEAN reads as `true`/`false` on PostgreSQL and `1`/`0` on MySQL and SQLite; written as 0/1. */
type Flag = ColumnType<boolean | number, number, number>;

/**
 * The tables as queries name them; `TablePrefixPlugin` adds the configured prefix. Lookups on
 * unbounded text (issuer URLs, `(iss, sub)` pairs, emails) go through SHA-256 `*_key` columns:
 * MySQL caps index keys at 3072 bytes and PostgreSQL at about 2700, and a hash compares exactly,
 * whatever the column collation would do with case or accents.
 */
export interface Database {
  /** Kysely `Migrator`'s record of applied migrations (its default names, behind the prefix). */
  kysely_migration: {
    name: string;
    /** ISO 8601. */
    timestamp: string;
  };
  /** The bookkeeping of the runner before `Migrator`: read once, to adopt a database it created. */
  migrations: {
    version: number;
    applied_at: EpochSeconds;
  };
  organizations: {
    org_id: string;
    /**
     * Since version 3, `issuer`, `client_ids`, `allowed_algorithms` and `email_linking` are a
     * snapshot of the first issuer, written and never read: `issuer_registrations` is the truth.
     * `issuer_key` is unique, so new rows put a hash of the org id there.
     */
    issuer: string;
    issuer_key: string;
    name: string;
    /** JSON arrays. */
    audience: string;
    client_ids: string;
    allowed_algorithms: string;
    email_linking: string;
    /** Since migration 3. */
    provisioning: string;
    suspended_at: NullableEpochSeconds;
    /** Since migration 8. */
    dpop_bound_access_tokens: Flag;
    /** Since migration 15: JSON array of `EndedRegistration`, or NULL for none. */
    ended_registrations: string | null;
    created_at: EpochSeconds;
    updated_at: EpochSeconds;
  };
  issuer_registrations: {
    registration_id: string;
    org_id: string;
    issuer: string;
    /** SHA-256 of the issuer: the lookup of an exchange. */
    issuer_key: string;
    /** SHA-256 of `[org_id, issuer]`, unique: one registration per org and issuer. */
    org_issuer_key: string;
    /** JSON arrays. */
    client_ids: string;
    allowed_algorithms: string;
    email_linking: string;
    subject_claim: string;
    trust_username_claims: Flag;
    /** Since migration 10: the exchange policy; a JSON object of mappings; 0 without a policy. */
    policy_condition: string | null;
    policy_claim_mappings: string | null;
    policy_version: ColumnType<number | string, number | undefined, number>;
    /** Since migration 13: `IssuerPolicyRecord.linkScope`; NULL without one (`org`). */
    policy_link_scope: string | null;
    created_at: EpochSeconds;
    updated_at: EpochSeconds;
  };
  /**
   * One row per registered issuer, updated (so locked) by every registration of it: either one
   * registration without client ids holds it exclusively, or `shared_count` registrations share it.
   */
  issuer_usage: {
    issuer_key: string;
    exclusive_registration_id: string | null;
    shared_count: number;
  };
  /** One row per (issuer, client id) claimed, keyed by SHA-256 of `[issuer, client_id]`. */
  issuer_client_claims: {
    claim_key: string;
    registration_id: string;
  };
  api_keys: {
    key_id: string;
    org_id: string;
    hash: string;
    created_at: EpochSeconds;
    revoked_at: NullableEpochSeconds;
  };
  users: {
    user_id: string;
    org_id: string;
    email: string;
    email_key: string;
    onboarding_completed: Flag;
    kyc_completed: Flag;
    accredited: Flag;
    accreditation_verified: Flag;
    /** Since migration 2; the three flags above are kept in step, derived from these. */
    kyc_status: string;
    accreditation_status: string;
    /** Since migration 3: `member` or `org_admin`. */
    role: string;
    /** Since migration 13: `UserRecord.firstSeenThrough`, '' for `null`; NULL on older users (unknown). */
    first_seen_through: string | null;
    created_at: EpochSeconds;
    updated_at: EpochSeconds;
  };
  identities: {
    identity_key: string;
    org_id: string;
    iss: string;
    sub: string;
    user_id: string;
    linked_at: EpochSeconds;
  };
  refresh_tokens: {
    jti: string;
    family_id: string;
    org_id: string;
    user_id: string;
    expires_at: EpochSeconds;
    /** Migration 3; null on tokens saved before it. */
    issued_at: NullableEpochSeconds;
    /** Migration 3; null on tokens saved before it. */
    kid: string | null;
    /** The token this one replaced; unique, so a token is used (has a successor) at most once. Migration 3. */
    parent_jti: string | null;
  };
  revoked_token_families: {
    family_id: string;
    revoked_at: EpochSeconds;
  };
  /** Single-use keys (`consumeOnce`): a row means the key is used until `expires_at`. */
  consumed_keys: {
    consumed_key: string;
    expires_at: EpochSeconds;
  };
  rate_limits: {
    rate_key: string;
    /** GCRA theoretical arrival time, epoch milliseconds. */
    arrival_ms: number;
    /** 1 when the last hit was admitted: what the upsert decided, read back in the same statement. */
    last_allowed: number;
  };
  /** Admin console sessions, by the SHA-256 of the session id. Migration 12. */
  console_sessions: {
    session_hash: string;
    credential_fingerprint: string;
    created_at: EpochSeconds;
    expires_at: EpochSeconds;
  };
  signing_keys: {
    key_use: string;
    kid: string;
    alg: string;
    /** The private JWK as JSON. */
    private_jwk: string;
    created_at: EpochSeconds;
    /**
     * `key_use` for the key `ensureSigningKey` stored, NULL for keys added later. Its unique index
     * lets exactly one of several concurrent first-start candidates in; NULLs never collide.
     */
    ensure_slot: ColumnType<string | null, string | null, never>;
  };
  webhook_subscriptions: {
    subscription_id: string;
    org_id: string;
    url: string;
    description: string | null;
    /** JSON array. */
    event_types: string;
    secret: string;
    previous_secret: string | null;
    previous_secret_expires_at: NullableEpochSeconds;
    disabled_at: NullableEpochSeconds;
    created_at: EpochSeconds;
    updated_at: EpochSeconds;
  };
  webhook_deliveries: {
    delivery_id: string;
    subscription_id: string;
    org_id: string;
    event_id: string;
    event_type: string;
    payload: string;
    status: string;
    next_attempt_at: NullableEpochSeconds;
    lease_token: string | null;
    lease_expires_at: NullableEpochSeconds;
    /** JSON array of attempts: at most one more than the retry schedule has entries. */
    attempts: string;
    created_at: EpochSeconds;
    updated_at: EpochSeconds;
  };
}

/** Every table a store creates, `Migrator`'s lock table included, e.g. for tests that drop them. */
export const TABLES: readonly string[] = [
  'kysely_migration',
  'kysely_migration_lock',
  'migrations',
  'organizations',
  'api_keys',
  'users',
  'identities',
  'refresh_tokens',
  'revoked_token_families',
  'signing_keys',
  'webhook_subscriptions',
  'webhook_deliveries',
  'consumed_keys',
  'issuer_registrations',
  'issuer_usage',
  'issuer_client_claims',
  'rate_limits',
  'console_sessions',
];
