import type { JWK } from 'jose';
import type { RequestLike } from './http-types.js';
import type { Logger } from './logger.js';
import { AUDIENCE_PATTERN } from './organizations.js';
import type { RateLimit } from './rate-limit.js';
import type { SharedDocumentCache } from './remote-documents.js';
import type { AccessTokenAlgorithm, HostKeys } from './signing-keys.js';
import type { EmailLinkingPolicy, Store } from './store.js';
import {
  type ResolvedWebhookOptions,
  resolveWebhookOptions,
  type WebhookOptions,
} from './webhooks/webhook-options.js';

export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 300; // short-lived by design: flags refresh with the token
export const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 1800; // after that, the partner exchanges a fresh ID token
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30; // IdP and service clocks drift a little
export const DEFAULT_FETCH_TIMEOUT_MS = 5000; // a slow IdP must not hold exchanges open
export const DEFAULT_MAX_REMOTE_DOCUMENT_BYTES = 512 * 1024; // real JWKS are a few KB
export const DEFAULT_DISCOVERY_CACHE_TTL_SECONDS = 600; // IdPs announce key rotation well ahead
export const DEFAULT_UNKNOWN_KID_COOLDOWN_SECONDS = 30; // bounds fetches caused by forged kids
export const DEFAULT_STALE_IF_ERROR_SECONDS = 3600; // rides out an IdP outage without trusting old keys forever
export const DEFAULT_REMOTE_FAILURE_BACKOFF_SECONDS = 5; // an unreachable IdP is not asked again on every request
export const DEFAULT_MAX_TOKEN_BYTES = 16 * 1024; // large Azure AD tokens are ~8 KB
export const DEFAULT_MAX_ID_TOKEN_LIFETIME_SECONDS = 86_400; // the longest ID-token lifetime common IdPs allow
export const DEFAULT_LOOKUP_CACHE_TTL_SECONDS = 5; // bound on how stale org and API-key lookups can be
export const DEFAULT_MAX_CACHED_ENTRIES = 10_000;
export const DEFAULT_KEY_RELOAD_INTERVAL_SECONDS = 60;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
// Generous: a partner backend sends all its users' exchanges from a few addresses.
export const DEFAULT_RATE_LIMIT_PER_IP: RateLimit = { limit: 1200, windowSeconds: 60 };
export const DEFAULT_RATE_LIMIT_PER_ORGANIZATION: RateLimit = { limit: 1200, windowSeconds: 60 };

/** Per-instance request limits on the exchange, refresh and revoke routes. */
export interface RateLimitOptions {
  /** Every request from one client address, counted before authentication. @default 1200 per 60 s */
  perIp?: RateLimit | false;
  /** Authenticated exchanges of one organization. @default 1200 per 60 s */
  perOrganization?: RateLimit | false;
}

/** Options of `createRialtoExchange` (and of `rialtoExchange` in the Express binding). */
export interface RialtoExchangeOptions {
  /** Where organizations, API keys, users, refresh tokens and signing keys live. */
  store: Store;
  /**
   * This service's issuer URL, put in `iss` of every token it mints. Include the mount path when
   * the router is mounted under a prefix, e.g. `https://api.example.com/auth`.
   */
  issuer: string;
  /** @default 300 */
  accessTokenTtlSeconds?: number;
  /** @default 1800 */
  refreshTokenTtlSeconds?: number;
  /** @default 'RS256' */
  accessTokenAlgorithm?: AccessTokenAlgorithm;
  /**
   * A private key (JWK or PKCS#8 PEM) to sign access tokens with, instead of keys generated and kept
   * in the store. Given several, the first signs and the others stay in the JWKS (rotate by prepending).
   */
  accessTokenKey?: HostKeys<JWK | string>;
  /**
   * An HMAC secret of at least 32 bytes for refresh tokens, instead of secrets kept in the store.
   * Given several, the first signs and the others still verify.
   */
  refreshTokenSecret?: HostKeys<string>;
  /**
   * How long a key added by `rotateSigningKey()` is published before it signs, so that every
   * instance (reloading keys every 60 s) and every resource server knows it first. @default 60
   */
  signingKeyPrepublishSeconds?: number;
  /** A bearer token that grants the admin routes. Compared in constant time. */
  adminToken?: string;
  /** Decides whether a request may use the admin routes; consulted when `adminToken` does not match. */
  authorizeAdmin?: (request: RequestLike) => boolean | Promise<boolean>;
  /**
   * Accept `http:` issuers and JWKS URLs. For local development against an IdP on loopback only.
   * @default false
   */
  allowInsecureIssuers?: boolean;
  /** Leeway for `exp`, `nbf` and `iat` of ID tokens and access tokens. @default 30 */
  clockToleranceSeconds?: number;
  /** Deadline for one discovery or JWKS request. @default 5000 */
  fetchTimeoutMs?: number;
  /** Largest discovery or JWKS document accepted. @default 524288 */
  maxRemoteDocumentBytes?: number;
  /** How long discovery documents and JWKS are reused. @default 600 */
  discoveryCacheTtlSeconds?: number;
  /** Least time between JWKS refetches caused by an unknown `kid`, per issuer. @default 30 */
  unknownKidCooldownSeconds?: number;
  /**
   * How long past `discoveryCacheTtlSeconds` cached discovery documents and keys are still used
   * while the IdP cannot be reached. @default 3600
   */
  staleIfErrorSeconds?: number;
  /** After a failed discovery or JWKS fetch, how long the failure is reused before asking again. @default 5 */
  remoteFailureBackoffSeconds?: number;
  /**
   * A cache shared by all instances (any Keyv instance fits) for discovery documents and JWKS, so
   * a fleet fetches each IdP's documents once instead of once per instance. Only public documents
   * are put in it. @default none
   */
  sharedDocumentCache?: SharedDocumentCache;
  /** Longest ID token accepted. @default 16384 */
  maxTokenBytes?: number;
  /** ID tokens whose `exp` lies further ahead than this are refused. @default 86400 */
  maxIdTokenLifetimeSeconds?: number;
  /**
   * How long organizations and API-key hashes are cached in process. A key revoked on another
   * instance stops working here within this bound. @default 5
   */
  lookupCacheTtlSeconds?: number;
  /**
   * The audiences partners may put in their access tokens with `PATCH /identity/auth/idp/:org_id`
   * and their API key; anything else answers 400. `identity` is always allowed. Admin credentials
   * may set any audience, and organizations keep the audiences they already have. Unset, partners
   * may name any audience, so their access tokens can claim to be for any resource server that
   * trusts this issuer: set it in production (a warning says so at start-up).
   * @default undefined (any audience)
   */
  allowedAudiences?: readonly string[];
  /** Largest request body accepted. @default 65536 */
  maxBodyBytes?: number;
  /** Linking policy for organizations registered without one. @default 'unless_unverified' */
  defaultEmailLinking?: EmailLinkingPolicy;
  /** Receives warnings and server errors (pino-compatible). Tokens and keys are never logged. @default silent */
  logger?: Logger;
  /**
   * Request limits, answered with 429 `rate_limited` and `Retry-After`; `false` turns them off.
   * Limits are kept per instance.
   * @default { perIp: 1200 per 60 s, perOrganization: 1200 per 60 s }
   */
  rateLimit?: RateLimitOptions | false;
  /** Webhook destinations, delivery timeout, retry schedule and the background worker. */
  webhooks?: WebhookOptions;
}

type OptionalWithoutDefault =
  | 'accessTokenKey'
  | 'refreshTokenSecret'
  | 'adminToken'
  | 'authorizeAdmin'
  | 'sharedDocumentCache'
  | 'allowedAudiences';

export type ResolvedRialtoExchangeOptions = Required<
  Omit<RialtoExchangeOptions, OptionalWithoutDefault | 'webhooks'>
> &
  Pick<RialtoExchangeOptions, OptionalWithoutDefault> & {
    keyReloadIntervalSeconds: number;
    rateLimit: { perIp: RateLimit | false; perOrganization: RateLimit | false };
    webhooks: ResolvedWebhookOptions;
  };

const SILENT_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Fills every default and rejects misconfiguration with a TypeError naming the option: a wrong
 * option is the host developer's bug and must fail at start-up, not on a partner's request.
 */
export function resolveOptions(input: RialtoExchangeOptions): ResolvedRialtoExchangeOptions {
  if (!input || typeof input !== 'object') throw new TypeError('createRialtoExchange: options are required');
  if (!input.store) throw new TypeError('createRialtoExchange: `store` is required');
  const allowInsecureIssuers = input.allowInsecureIssuers ?? false;
  if (typeof input.issuer !== 'string' || !URL.canParse(input.issuer)) {
    throw new TypeError(
      'createRialtoExchange: `issuer` must be an absolute URL, e.g. "https://api.example.com"',
    );
  }
  const issuerUrl = new URL(input.issuer);
  if (
    issuerUrl.protocol !== 'https:' &&
    !(issuerUrl.protocol === 'http:' && isLoopback(issuerUrl.hostname))
  ) {
    throw new TypeError(
      'createRialtoExchange: `issuer` must be an https URL (http is allowed on localhost only)',
    );
  }
  if (
    input.refreshTokenSecret !== undefined &&
    [input.refreshTokenSecret].flat().some((secret) => Buffer.byteLength(secret) < 32)
  ) {
    throw new TypeError('createRialtoExchange: `refreshTokenSecret` must be at least 32 bytes');
  }
  if (input.adminToken !== undefined && input.adminToken.length < 16) {
    throw new TypeError('createRialtoExchange: `adminToken` must be at least 16 characters');
  }
  const resolved: ResolvedRialtoExchangeOptions = {
    store: input.store,
    issuer: input.issuer.replace(/\/$/, ''),
    accessTokenTtlSeconds: positive(
      'accessTokenTtlSeconds',
      input.accessTokenTtlSeconds,
      DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
    ),
    refreshTokenTtlSeconds: positive(
      'refreshTokenTtlSeconds',
      input.refreshTokenTtlSeconds,
      DEFAULT_REFRESH_TOKEN_TTL_SECONDS,
    ),
    accessTokenAlgorithm: input.accessTokenAlgorithm ?? 'RS256',
    accessTokenKey: input.accessTokenKey,
    refreshTokenSecret: input.refreshTokenSecret,
    adminToken: input.adminToken,
    authorizeAdmin: input.authorizeAdmin,
    allowInsecureIssuers,
    clockToleranceSeconds: nonNegative(
      'clockToleranceSeconds',
      input.clockToleranceSeconds,
      DEFAULT_CLOCK_TOLERANCE_SECONDS,
    ),
    fetchTimeoutMs: positive('fetchTimeoutMs', input.fetchTimeoutMs, DEFAULT_FETCH_TIMEOUT_MS),
    maxRemoteDocumentBytes: positive(
      'maxRemoteDocumentBytes',
      input.maxRemoteDocumentBytes,
      DEFAULT_MAX_REMOTE_DOCUMENT_BYTES,
    ),
    discoveryCacheTtlSeconds: positive(
      'discoveryCacheTtlSeconds',
      input.discoveryCacheTtlSeconds,
      DEFAULT_DISCOVERY_CACHE_TTL_SECONDS,
    ),
    unknownKidCooldownSeconds: nonNegative(
      'unknownKidCooldownSeconds',
      input.unknownKidCooldownSeconds,
      DEFAULT_UNKNOWN_KID_COOLDOWN_SECONDS,
    ),
    staleIfErrorSeconds: nonNegative(
      'staleIfErrorSeconds',
      input.staleIfErrorSeconds,
      DEFAULT_STALE_IF_ERROR_SECONDS,
    ),
    remoteFailureBackoffSeconds: nonNegative(
      'remoteFailureBackoffSeconds',
      input.remoteFailureBackoffSeconds,
      DEFAULT_REMOTE_FAILURE_BACKOFF_SECONDS,
    ),
    sharedDocumentCache: input.sharedDocumentCache,
    maxIdTokenLifetimeSeconds: positive(
      'maxIdTokenLifetimeSeconds',
      input.maxIdTokenLifetimeSeconds,
      DEFAULT_MAX_ID_TOKEN_LIFETIME_SECONDS,
    ),
    maxTokenBytes: positive('maxTokenBytes', input.maxTokenBytes, DEFAULT_MAX_TOKEN_BYTES),
    lookupCacheTtlSeconds: positive(
      'lookupCacheTtlSeconds',
      input.lookupCacheTtlSeconds,
      DEFAULT_LOOKUP_CACHE_TTL_SECONDS,
    ),
    allowedAudiences: resolveAllowedAudiences(input.allowedAudiences),
    maxBodyBytes: positive('maxBodyBytes', input.maxBodyBytes, DEFAULT_MAX_BODY_BYTES),
    defaultEmailLinking: input.defaultEmailLinking ?? 'unless_unverified',
    logger: input.logger ?? SILENT_LOGGER,
    keyReloadIntervalSeconds: DEFAULT_KEY_RELOAD_INTERVAL_SECONDS,
    signingKeyPrepublishSeconds: nonNegative(
      'signingKeyPrepublishSeconds',
      input.signingKeyPrepublishSeconds,
      DEFAULT_KEY_RELOAD_INTERVAL_SECONDS,
    ),
    rateLimit: resolveRateLimits(input.rateLimit),
    webhooks: resolveWebhookOptions(input.webhooks),
  };
  if (!['RS256', 'PS256', 'ES256', 'EdDSA'].includes(resolved.accessTokenAlgorithm)) {
    throw new TypeError(
      'createRialtoExchange: `accessTokenAlgorithm` must be one of RS256, PS256, ES256, EdDSA',
    );
  }
  return resolved;
}

function resolveAllowedAudiences(input: readonly string[] | undefined): readonly string[] | undefined {
  if (input === undefined) return undefined;
  if (!Array.isArray(input) || !input.every((audience) => AUDIENCE_PATTERN.test(audience))) {
    throw new TypeError(
      'createRialtoExchange: `allowedAudiences` must be an array of audiences (1-64 letters, digits, ".", "_", ":" or "-")',
    );
  }
  return [...input];
}

function resolveRateLimits(input: RateLimitOptions | false | undefined) {
  if (input === false) return { perIp: false as const, perOrganization: false as const };
  return {
    perIp: resolveRateLimit('rateLimit.perIp', input?.perIp, DEFAULT_RATE_LIMIT_PER_IP),
    perOrganization: resolveRateLimit(
      'rateLimit.perOrganization',
      input?.perOrganization,
      DEFAULT_RATE_LIMIT_PER_ORGANIZATION,
    ),
  };
}

function resolveRateLimit(
  name: string,
  input: RateLimit | false | undefined,
  fallback: RateLimit,
): RateLimit | false {
  if (input === false) return false;
  if (input === undefined) return fallback;
  return {
    limit: positive(`${name}.limit`, input.limit, 0),
    windowSeconds: positive(`${name}.windowSeconds`, input.windowSeconds, 0),
  };
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`createRialtoExchange: \`${name}\` must be a positive number`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`createRialtoExchange: \`${name}\` must be zero or a positive number`);
  }
  return value;
}
