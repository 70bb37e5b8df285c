import { createPrivateKey } from 'node:crypto';
import type { JWK } from 'jose';
import { z } from 'zod';
import { healthOptionsSchema } from '../http/health-options.js';
import type { RequestLike } from '../http/http-types.js';
import { openApiOptionsSchema } from '../http/openapi-options.js';
import type { FetchFunction } from '../internal/bounded-fetch.js';
import { EMAIL_LINKING_POLICIES } from '../issuers/issuer-registrations.js';
import type { SharedDocumentCache } from '../issuers/remote-documents.js';
import type { AccessTokenAlgorithm, HostKeys } from '../keys/signing-keys.js';
import { rateLimitOptionsSchema } from '../limits/rate-limit-options.js';
import { AUDIENCE_PATTERN } from '../organizations/organizations.js';
import { DEFAULT_POLICY_HOOK_TIMEOUT_MS, type ExchangePolicyHook } from '../policy/policy-hook.js';
import type { EmailLinkingPolicy, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { metricsOptionsSchema } from '../telemetry/prometheus-metrics.js';
import { createStderrLogger } from '../telemetry/stderr-logger.js';
import { webhookOptionsSchema } from '../webhooks/webhook-options.js';
import {
  implementation,
  named,
  nonNegativeNumber,
  oneOrMore,
  orFalse,
  parseOptions,
  positiveNumber,
  strictOptions,
} from './schema-helpers.js';

const ACCESS_TOKEN_ALGORITHMS = [
  'RS256',
  'PS256',
  'ES256',
  'EdDSA',
] as const satisfies readonly AccessTokenAlgorithm[];

const SILENT_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const issuerSchema = z
  .string({ error: 'must be an absolute URL, e.g. "https://api.example.com"' })
  .refine((issuer) => URL.canParse(issuer), {
    error: 'must be an absolute URL, e.g. "https://api.example.com"',
    abort: true,
  })
  .refine(
    (issuer) => {
      const url = new URL(issuer);
      return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
    },
    { error: 'must be an https URL (http is allowed on localhost only)' },
  )
  .transform((issuer) => issuer.replace(/\/$/, ''));

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;
const hasMethods = (value: unknown, names: readonly string[]) =>
  isObject(value) && names.every((name) => typeof value[name] === 'function');

/**
 * Every option: its TSDoc (what users read in their editor and in the API reference), its check,
 * and its default with the reason for it. The options' types are inferred from it.
 */
const rialtoExchangeOptionsShape = {
  /** Where organizations, API keys, users, refresh tokens and signing keys live. */
  store: implementation<Store>(
    isObject,
    'a Store, e.g. memoryStore() or sqlStore(...) from @rialto-exchange/storage-adapters',
  ),
  /**
   * This service's issuer URL, put in `iss` of every token it mints. Include the mount path when
   * the router is mounted under a prefix, e.g. `https://api.example.com/auth`.
   */
  issuer: issuerSchema,
  /** @default 300 */
  accessTokenTtlSeconds: positiveNumber().default(300), // short-lived by design: flags refresh with the token
  /** @default 1800 */
  refreshTokenTtlSeconds: positiveNumber().default(1800), // then the partner exchanges a fresh ID token
  /**
   * How long after a refresh token was used a retry of that same token is answered with the same
   * successor instead of being taken as reuse (which revokes the family). It makes a refresh whose
   * answer was lost, or that got a 503 after the store had already written it, safe to retry. The
   * window closes early once the successor is used. 0 treats every second use as reuse. Must be
   * below `refreshTokenTtlSeconds`.
   * @default 10
   */
  // A client that got a 503 (Retry-After: 1) or lost the answer retries within seconds; a stolen
  // token replayed later than this still revokes its family.
  refreshTokenRetryGraceSeconds: nonNegativeNumber().default(10),
  /**
   * The access-token signing algorithm. When `accessTokenKey` is given and only one algorithm fits
   * it (EC P-256: ES256, Ed25519: EdDSA), that one is used; an RSA key defaults to RS256.
   * @default 'RS256'
   */
  // No default here: resolveOptions infers it from `accessTokenKey` when that is given.
  accessTokenAlgorithm: named<AccessTokenAlgorithm>(
    z.enum(ACCESS_TOKEN_ALGORITHMS, { error: `must be one of ${ACCESS_TOKEN_ALGORITHMS.join(', ')}` }),
  ).optional(),
  /**
   * A private key (JWK or PKCS#8 PEM) to sign access tokens with, instead of keys generated and kept
   * in the store. Given several, the first signs and the others stay in the JWKS (rotate by prepending).
   */
  accessTokenKey: named<HostKeys<JWK | string>>(
    oneOrMore(
      implementation<JWK | string>(
        (value) =>
          (typeof value === 'string' && value.trim() !== '') ||
          (isObject(value) && typeof value.kty === 'string'),
        'a PKCS#8 PEM string or a private JWK',
      ),
      'a PKCS#8 PEM string or a private JWK',
    ),
  ).optional(),
  /**
   * An HMAC secret of at least 32 bytes for refresh tokens, instead of secrets kept in the store.
   * Given several, the first signs and the others still verify.
   */
  refreshTokenSecret: named<HostKeys<string>>(
    oneOrMore(
      z
        .string({ error: 'must be a string of at least 32 bytes' })
        .refine((secret) => Buffer.byteLength(secret) >= 32, { error: 'must be at least 32 bytes' }),
      'a secret of at least 32 bytes',
    ),
  ).optional(),
  /**
   * How long a key added by `rotateSigningKey()` is published before it signs, so that every
   * instance and every resource server knows it first. Must be at least
   * `signingKeyReloadIntervalSeconds`, or an instance could meet tokens signed with a key it has
   * not loaded yet. @default the value of `signingKeyReloadIntervalSeconds`
   */
  // No default here: resolveOptions makes it follow signingKeyReloadIntervalSeconds.
  signingKeyPrepublishSeconds: nonNegativeNumber().optional(),
  /**
   * How often each instance reloads its signing keys from the store, so a key rotated in by
   * another instance is in this instance's JWKS within this bound. (A token signed with a key the
   * instance does not know yet makes it reload at once, at most once per second.) @default 60
   */
  // Bounds how long another instance's new key stays unknown here (JWKS included); one store read per
  // interval.
  signingKeyReloadIntervalSeconds: positiveNumber().default(60),
  /** A bearer token that grants the admin routes. Compared in constant time. */
  adminToken: z
    .string({ error: 'must be a string of at least 16 characters' })
    .min(16, { error: 'must be at least 16 characters' })
    .optional(),
  /** Decides whether a request may use the admin routes; consulted when `adminToken` does not match. */
  authorizeAdmin: implementation<(request: RequestLike) => boolean | Promise<boolean>>(
    (value) => typeof value === 'function',
    'a function (request) => boolean | Promise<boolean>',
  ).optional(),
  /**
   * Accept `http:` issuers and JWKS URLs. For local development against an IdP on loopback only.
   * @default false
   */
  allowInsecureIssuers: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * Let issuers and their `jwks_uri` resolve to loopback and private-network addresses (RFC 1918,
   * IPv6 unique-local, …). Off, such issuers are refused at registration and every discovery and
   * JWKS fetch is refused at connect time, so neither an admin typo nor a rebinding DNS answer makes
   * this service fetch from inside its own network. Link-local and cloud-metadata addresses
   * (169.254.0.0/16, `fd00:ec2::254`, and their IPv6 embeddings) stay refused whatever this says.
   * @default true when this service's own `issuer` is on loopback (local development, the zero-config
   *   `rialtoExchange()`), false otherwise
   */
  // No default here: resolveOptions opens private addresses when the service's own issuer is on loopback.
  allowPrivateIssuers: z.boolean({ error: 'must be true or false' }).optional(),
  /**
   * The `fetch` used for discovery documents and JWKS, e.g. one that goes through a corporate proxy
   * or trusts a private CA. It still gets the `fetchTimeoutMs` deadline (as an `AbortSignal`) and
   * the `maxRemoteDocumentBytes` cap, and `redirect: 'manual'`. Because the library does not see its
   * connections, each request's host is resolved and checked against the address policy first; the
   * function must not follow redirects nor connect anywhere but the URL it is given.
   * @default Node's own HTTP client, which checks the address it connects to
   */
  fetch: implementation<FetchFunction>(
    (value) => typeof value === 'function',
    'a fetch function (url, init) => Promise<Response>',
  ).optional(),
  /** Leeway for `exp`, `nbf` and `iat` of ID tokens and access tokens. @default 30 */
  clockToleranceSeconds: nonNegativeNumber().default(30), // IdP and service clocks drift a little
  /** Deadline for one discovery or JWKS request. @default 5000 */
  fetchTimeoutMs: positiveNumber().default(5000), // a slow IdP must not hold exchanges open
  /** Largest discovery or JWKS document accepted. @default 524288 */
  maxRemoteDocumentBytes: positiveNumber().default(512 * 1024), // real JWKS are a few KB
  /** How long discovery documents and JWKS are reused. @default 600 */
  discoveryCacheTtlSeconds: positiveNumber().default(600), // IdPs announce key rotation well ahead
  /** Least time between JWKS refetches caused by an unknown `kid`, per issuer. @default 30 */
  unknownKidCooldownSeconds: nonNegativeNumber().default(30), // bounds fetches caused by forged kids
  /**
   * How long past `discoveryCacheTtlSeconds` cached discovery documents and keys are still used
   * while the IdP cannot be reached. @default 3600
   */
  // Rides out an IdP outage without trusting old keys forever.
  staleIfErrorSeconds: nonNegativeNumber().default(3600),
  /** After a failed discovery or JWKS fetch, how long the failure is reused before asking again. @default 5 */
  // An unreachable IdP is not asked again on every request.
  remoteFailureBackoffSeconds: nonNegativeNumber().default(5),
  /**
   * A cache shared by all instances (any Keyv instance fits) for discovery documents and JWKS, so
   * a fleet fetches each IdP's documents once instead of once per instance. Only public documents
   * are put in it. @default none
   */
  sharedDocumentCache: implementation<SharedDocumentCache>(
    (value) => hasMethods(value, ['get', 'set']),
    'an object with get(key) and set(key, value, ttlMs), e.g. a Keyv instance',
  ).optional(),
  /** Longest ID token accepted. @default 16384 */
  maxTokenBytes: positiveNumber().default(16 * 1024), // large Azure AD tokens are ~8 KB
  /** ID tokens whose `exp` lies further ahead than this are refused. @default 86400 */
  maxIdTokenLifetimeSeconds: positiveNumber().default(86_400), // the longest lifetime common IdPs allow
  /**
   * How long organizations and API-key hashes are cached in process. A key revoked on another
   * instance stops working here within this bound. @default 5
   */
  lookupCacheTtlSeconds: positiveNumber().default(5), // bound on how stale org and API-key lookups can be
  /**
   * The audiences partners may put in their access tokens with `PATCH /identity/auth/idp/:org_id`
   * and their API key; anything else answers 400. `identity` is always allowed. Admin credentials
   * may set any audience, and organizations keep the audiences they already have. Unset, partners
   * may name any audience, so their access tokens can claim to be for any resource server that
   * trusts this issuer: set it in production (a warning says so at start-up).
   * @default undefined (any audience)
   */
  allowedAudiences: z
    .array(
      z.string({ error: 'must be an array of audiences' }).regex(AUDIENCE_PATTERN, {
        error: 'must be an array of audiences (1-64 letters, digits, ".", "_", ":" or "-")',
      }),
      { error: 'must be an array of audiences (1-64 letters, digits, ".", "_", ":" or "-")' },
    )
    .readonly()
    .optional(),
  /**
   * The absolute URIs a `resource` parameter (RFC 8707) at `POST /oauth/token` may name, each mapped
   * to the audience it stands for, e.g. `{ 'https://issuance.example.com/': 'primary-issuance' }`.
   * Any other `resource` is `400 invalid_target`. @default {}
   */
  resourceAudiences: z
    .record(
      z.url({ error: 'must map absolute URIs to audiences' }),
      z.string().regex(AUDIENCE_PATTERN, {
        error: 'must map absolute URIs to audiences (1-64 letters, digits, ".", "_", ":" or "-")',
      }),
      { error: 'must map absolute URIs to audiences' },
    )
    .readonly()
    .default({}),
  /** Largest request body accepted. @default 65536 */
  maxBodyBytes: positiveNumber().default(64 * 1024),
  /**
   * Linking policy for organizations registered without one. Organizations already registered
   * keep the policy they were stored with. @default 'verified'
   */
  // Link a new identity to an existing user only when the IdP vouches for the email: the lenient
  // policy lets anyone whose IdP omits email_verified take over an account.
  defaultEmailLinking: named<EmailLinkingPolicy>(
    z.enum(EMAIL_LINKING_POLICIES, { error: `must be one of ${EMAIL_LINKING_POLICIES.join(', ')}` }),
  ).default('verified'),
  /**
   * Refuse to register an organization without `client_ids` (400 `invalid_request`). Without
   * them, ID tokens issued to any client of the org's IdP are accepted, including apps of other
   * companies on a shared IdP. @default false
   */
  // The seeds register organizations by issuer alone; such registrations get a warning instead.
  requireClientIds: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * Exchange each ID token at most once (by issuer and `jti`, or by the token's hash when it has no
   * `jti`), until it expires; a second exchange answers 400 `invalid_token`. Recorded in the store
   * only after every check passed, so a refused request never uses a token up. Off by default: a
   * partner that retries after a lost answer, or after a 409 or 503, needs a fresh ID token then.
   * With `keyvStore`, two exchanges of one token at the same instant can both pass.
   * @default false
   */
  // Off: a partner that retries an exchange whose answer it lost would be refused.
  singleUseIdTokens: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * Decides what the issuers' CEL policies cannot (docs/exchange-policy.md): called on each
   * exchange after every check of the ID token and the issuer's policy, before anything is
   * written, with the verified claims, the org, the issuer and the existing user or `null` (and
   * `dryRun: true` from the debugger). It may add access-token claims or deny with a reason
   * (`403 access_denied`). Slower than `exchangePolicyHookTimeoutMs` is `503`; a throw is `500`,
   * its cause logged, never sent.
   */
  exchangePolicyHook: implementation<ExchangePolicyHook>(
    (value) => typeof value === 'function',
    'a function ({ claims, org, issuer, user, dryRun, signal }) => result | Promise<result>',
  ).optional(),
  /**
   * How long `exchangePolicyHook` may take before the exchange answers 503 and aborts its `signal`.
   * @default 2000
   */
  exchangePolicyHookTimeoutMs: z
    .number({ error: 'must be a positive whole number of milliseconds' })
    .int({ error: 'must be a positive whole number of milliseconds' })
    .positive({ error: 'must be a positive whole number of milliseconds' })
    .default(DEFAULT_POLICY_HOOK_TIMEOUT_MS),
  /**
   * Receives warnings and server errors (pino-compatible). Tokens and keys are never logged.
   * Without one, 5xx causes and identity-provider failures are printed to stderr, once per
   * distinct cause per minute; `false` silences them.
   * @default a stderr logger for warnings and errors
   */
  logger: orFalse(
    implementation<Logger>(
      (value) => hasMethods(value, ['debug', 'info', 'warn', 'error']),
      'a pino-compatible logger with debug, info, warn and error methods',
    ),
    'a pino-compatible logger with debug, info, warn and error methods',
  )
    // Each exchange gets its own stderr logger, so its once-per-cause memory is not shared.
    .default(() => createStderrLogger())
    .transform((logger) => (logger === false ? SILENT_LOGGER : logger)),
  /**
   * Request limits, answered with 429 `rate_limited` and `Retry-After`; `false` turns them off.
   * The per-organization limit is shared through the store where it can hold it (see
   * `Store.hitRateLimit`); the per-address limit is kept per instance.
   * @default { perIp: { limit: 1200, windowSeconds: 60 },
   *   perOrganization: { limit: 1200, windowSeconds: 60 }, ipv6PrefixLength: 64 }
   */
  rateLimit: rateLimitOptionsSchema,
  /** Webhook destinations, delivery timeout, retry schedule and the background worker. */
  webhooks: webhookOptionsSchema,
  /**
   * Liveness and readiness routes (paths relative to where the exchange is mounted, and the
   * readiness deadline), or `false` to serve neither.
   * @default { livePath: '/health/live', readyPath: '/health/ready', readyTimeoutMs: 500 }
   */
  health: healthOptionsSchema,
  /**
   * The route serving the OpenAPI 3.1 document of the HTTP API (public: it names no organization,
   * key or user), or `false` not to serve it. The same document is committed as `docs/openapi.json`.
   * @default { path: '/identity/openapi.json' }
   */
  openapi: openApiOptionsSchema,
  /**
   * Prometheus metrics through prom-client (an optional peer dependency, loaded only when this is
   * set): `true` registers them on prom-client's global registry, `{ registry }` on yours. Expose
   * them with `exchange.metrics.scrape()` (Express: `rialtoMetricsHandler`). Off, nothing is
   * recorded and prom-client is never loaded.
   * @default false
   */
  metrics: metricsOptionsSchema,
};

const rialtoExchangeOptionsSchema = strictOptions(rialtoExchangeOptionsShape);

/** Options of `createRialtoExchange` (and of `rialtoExchange` in the Express binding). */
export interface RialtoExchangeOptions extends z.input<z.ZodObject<typeof rialtoExchangeOptionsShape>> {}

/** Options whose default depends on other options, so `resolveOptions` fills them after the schema. */
type DerivedDefault = 'accessTokenAlgorithm' | 'allowPrivateIssuers' | 'signingKeyPrepublishSeconds';

/** The options with every default filled, as the exchange uses them. */
export interface ResolvedRialtoExchangeOptions
  extends Omit<z.output<z.ZodObject<typeof rialtoExchangeOptionsShape>>, DerivedDefault>,
    Required<Pick<z.output<z.ZodObject<typeof rialtoExchangeOptionsShape>>, DerivedDefault>> {}

/** Every option's name, for the check that the Options table of docs/configuration.md has a row for each. */
export const OPTION_NAMES: readonly string[] = Object.keys(rialtoExchangeOptionsShape);

/**
 * Fills every default and rejects misconfiguration with a TypeError naming the option: a wrong
 * option is the host developer's bug and must fail at start-up, not on a partner's request.
 * Unknown options are refused with the closest valid name, so a typo cannot silently drop a setting.
 */
export function resolveOptions(input: RialtoExchangeOptions): ResolvedRialtoExchangeOptions {
  const options = parseOptions(rialtoExchangeOptionsSchema, input, 'createRialtoExchange');
  const { signingKeyReloadIntervalSeconds } = options;
  const signingKeyPrepublishSeconds = options.signingKeyPrepublishSeconds ?? signingKeyReloadIntervalSeconds;
  if (signingKeyPrepublishSeconds < signingKeyReloadIntervalSeconds) {
    throw new TypeError(
      `createRialtoExchange: \`signingKeyPrepublishSeconds\` must be at least \`signingKeyReloadIntervalSeconds\` (${signingKeyReloadIntervalSeconds}), so every instance loads a new key before it signs`,
    );
  }
  if (options.refreshTokenRetryGraceSeconds >= options.refreshTokenTtlSeconds) {
    throw new TypeError(
      'createRialtoExchange: `refreshTokenRetryGraceSeconds` must be below `refreshTokenTtlSeconds`',
    );
  }
  return {
    ...options,
    allowPrivateIssuers: options.allowPrivateIssuers ?? isLoopback(new URL(options.issuer).hostname),
    signingKeyPrepublishSeconds,
    accessTokenAlgorithm: accessTokenAlgorithmFor(options.accessTokenAlgorithm, options.accessTokenKey),
  };
}

/**
 * The algorithm is inferred from the host's key when only one fits it (an EC P-256 key can only
 * sign ES256, an Ed25519 key only EdDSA), so a key from `generate-key --alg ES256` works without
 * also naming its algorithm. An RSA key fits RS256 and PS256, so RS256 stays the default there.
 * A key that cannot sign the named algorithm fails here, not as a 500 on every request.
 */
function accessTokenAlgorithmFor(
  requested: AccessTokenAlgorithm | undefined,
  keys: HostKeys<JWK | string> | undefined,
): AccessTokenAlgorithm {
  const first = keys === undefined ? undefined : [keys].flat()[0];
  if (first === undefined) return requested ?? 'RS256'; // every JWT library verifies it
  const fitting = algorithmsFittingKey(first);
  if (requested === undefined) return fitting[0] as AccessTokenAlgorithm;
  if (!fitting.includes(requested)) {
    throw new TypeError(
      `createRialtoExchange: \`accessTokenAlgorithm\` is ${requested} but \`accessTokenKey\` is a key for ${fitting.join(' or ')}; set the algorithm to match the key (RIALTO_ACCESS_TOKEN_ALGORITHM from the environment)`,
    );
  }
  return requested;
}

function algorithmsFittingKey(key: JWK | string): AccessTokenAlgorithm[] {
  let details: { type?: string; curve?: string | undefined; jwkAlg?: string | undefined };
  try {
    if (typeof key === 'string') {
      const privateKey = createPrivateKey({ key, format: 'pem' });
      details = { type: privateKey.asymmetricKeyType, curve: privateKey.asymmetricKeyDetails?.namedCurve };
    } else {
      details = {
        type: key.kty === 'OKP' ? key.crv?.toLowerCase() : key.kty?.toLowerCase(),
        curve: key.crv,
        jwkAlg: key.alg,
      };
    }
  } catch {
    // Never echo the value: it is a private key.
    throw new TypeError('createRialtoExchange: `accessTokenKey` is not a PKCS#8 PEM private key');
  }
  if (details.type === 'rsa') {
    return details.jwkAlg === 'PS256' ? ['PS256', 'RS256'] : ['RS256', 'PS256'];
  }
  if (details.type === 'ec' && (details.curve === 'prime256v1' || details.curve === 'P-256'))
    return ['ES256'];
  if (details.type === 'ed25519') return ['EdDSA'];
  throw new TypeError(
    'createRialtoExchange: `accessTokenKey` must be an RSA (RS256, PS256), EC P-256 (ES256) or Ed25519 (EdDSA) private key',
  );
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}
