import { z } from 'zod';
import { ERROR_CODES, type RialtoErrorCode } from '../errors.js';
import {
  EMAIL_LINKING_POLICIES,
  LINK_SCOPES,
  registrationWarnings,
} from '../issuers/issuer-registrations.js';
import { authorizationServerMetadataSchema } from '../oauth/metadata.js';
import { OAUTH_ERROR_CODES, type OAuthErrorCode } from '../oauth/oauth-error.js';
import { ACCESS_TOKEN_TYPE } from '../oauth/token-request.js';
import { PROVISIONING_MODES, type RegisteredOrganization } from '../organizations/organizations.js';
import { exchangePolicySchema } from '../policy/policy-schema.js';
import { policyOf } from '../store/kit/legacy-defaults.js';
import { linkScopeOf } from '../store/kit/link-scope.js';
import type {
  IssuerPolicyRecord,
  IssuerRegistrationRecord,
  OrganizationRecord,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookSubscriptionRecord,
} from '../store/store.js';
import { USER_ROLES } from '../users/user-roles.js';
import { ACCREDITATION_STATUSES, KYC_STATUSES, verificationFlags } from '../users/verification-flags.js';
import { apiSchemas } from './api-schemas.js';

/**
 * Records as the HTTP API shows them: snake_case, ISO 8601 timestamps. Each body has a strict schema
 * (the OpenAPI document is generated from them) and a builder whose return type is that schema's
 * type, so the compiler refuses a field the document does not name; routes off the hot path also
 * parse their answer through the schema (`respond`).
 */

const isoTimeSchema = z.iso.datetime();

/**
 * The exchange's body. The exchange reads it by hand, not through this schema: a bad body is
 * `invalid_token` there, and the hot path skips a parse.
 */
export const exchangeRequestSchema = z
  .object({ token: z.string().describe("The partner IdP's ID token (a JWS compact JWT).") })
  .register(apiSchemas, { id: 'ExchangeRequest' });

/** The debugger's body: the exchange's, and optionally a draft policy to try instead of the stored one. */
export const explainRequestSchema = exchangeRequestSchema
  .extend({
    policy: exchangePolicySchema
      .optional()
      .describe(
        "A draft exchange policy (condition, claim_mappings) evaluated instead of the issuer's stored one; nothing is saved.",
      ),
  })
  .register(apiSchemas, { id: 'ExplainRequest' });

/** The body of refresh and revoke. */
export const refreshRequestSchema = z
  .object({ refresh_token: z.string().min(1) })
  .register(apiSchemas, { id: 'RefreshRequest' });

export const tokenResponseSchema = z
  .strictObject({
    access_token: z
      .string()
      .describe('A JWT signed by this service (`typ: at+jwt`); verify it with the JWKS.'),
    token_type: z
      .enum(['Bearer', 'DPoP'])
      .describe('`DPoP` for a token the OAuth token endpoint bound to a DPoP key (RFC 9449).'),
    expires_in: z.number().int().nonnegative().describe('Seconds until the access token expires.'),
    refresh_token: z.string().describe('Single use: `POST /identity/auth/refresh` answers a new pair.'),
    refresh_expires_in: z.number().int().nonnegative(),
    scope: z.string(),
  })
  .register(apiSchemas, { id: 'TokenResponse' });

const verificationFlagsShape = {
  onboarding_completed: z.boolean(),
  kyc_completed: z.boolean(),
  accredited: z.boolean(),
  accreditation_verified: z.boolean(),
};

export const userResponseSchema = z
  .strictObject({
    user_id: z.uuid(),
    org_id: z.uuid(),
    email: z.string(),
    role: z.enum(USER_ROLES),
    ...verificationFlagsShape,
    kyc_status: z.enum(KYC_STATUSES),
    accreditation_status: z.enum(ACCREDITATION_STATUSES),
    created_at: isoTimeSchema,
    updated_at: isoTimeSchema,
  })
  .register(apiSchemas, { id: 'User' });

const policyFieldsShape = {
  condition: z.string().nullable().describe('The CEL condition an exchange must meet; null: none.'),
  claim_mappings: z
    .record(z.string(), z.string())
    .describe('Access-token claim name to the CEL expression whose value it gets.'),
  policy_version: z
    .number()
    .int()
    .min(0)
    .describe('1 at registration, one more on each policy change; 0 for registrations older than policies.'),
};

const issuerFieldsShape = {
  issuer: z.string(),
  client_ids: z.array(z.string()),
  allowed_algorithms: z.array(z.string()),
  email_linking: z.enum(EMAIL_LINKING_POLICIES),
  subject_claim: z.string(),
  trust_username_claims: z.boolean(),
  link_scope: z
    .enum(LINK_SCOPES)
    .describe(
      'issuer: email linking joins only users first seen through this registration; org: any user of the organization.',
    ),
  // The exchange policy (docs/exchange-policy.md).
  ...policyFieldsShape,
};

export const issuerRegistrationResponseSchema = z
  .strictObject({
    issuer_id: z.uuid(),
    org_id: z.uuid(),
    ...issuerFieldsShape,
    created_at: isoTimeSchema,
    warnings: z
      .array(z.string())
      .optional()
      .describe('What the registration allows that an admin should know, e.g. an unsafe subject_claim.'),
  })
  .register(apiSchemas, { id: 'IssuerRegistration' });

export const registeredOrganizationResponseSchema = z
  .strictObject({
    org_id: z.uuid(),
    name: z.string(),
    audience: z.array(z.string()),
    issuer_id: z.uuid(),
    ...issuerFieldsShape,
    provisioning: z.enum(PROVISIONING_MODES),
    dpop_bound_access_tokens: z.boolean(),
    api_key: z.string().describe('Shown only here: store it in your secret store.'),
    api_key_id: z.uuid(),
    created_at: isoTimeSchema,
    warnings: z.array(z.string()).optional(),
  })
  .register(apiSchemas, { id: 'RegisteredOrganization' });

export const organizationStatusResponseSchema = z
  .strictObject({
    org_id: z.uuid(),
    name: z.string(),
    provisioning: z.enum(PROVISIONING_MODES),
    dpop_bound_access_tokens: z.boolean(),
    suspended: z.boolean(),
    suspended_at: isoTimeSchema.nullable(),
  })
  .register(apiSchemas, { id: 'OrganizationStatus' });

export const webhookSubscriptionResponseSchema = z
  .strictObject({
    id: z.uuid(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    disabled: z.boolean(),
    created_at: isoTimeSchema,
  })
  .register(apiSchemas, { id: 'WebhookSubscription' });

export const webhookDeliveryResponseSchema = z
  .strictObject({
    id: z.uuid(),
    event_id: z.string(),
    event_type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    next_attempt_at: isoTimeSchema.nullable(),
    attempts: z.array(
      z.strictObject({
        attempted_at: isoTimeSchema,
        response_status: z.number().int().nullable(),
        duration_ms: z.number().nonnegative(),
        error: z.string().nullable(),
        response_excerpt: z.string().nullable(),
      }),
    ),
    created_at: isoTimeSchema,
  })
  .register(apiSchemas, { id: 'WebhookDelivery' });

/** The verification flags as the API and the access-token claims both name them. */
export function verificationFlagsJson(user: UserRecord) {
  const flags = verificationFlags(user);
  return {
    onboarding_completed: flags.onboardingCompleted,
    kyc_completed: flags.kycCompleted,
    accredited: flags.accredited,
    accreditation_verified: flags.accreditationVerified,
  };
}

export function userJson(user: UserRecord): z.infer<typeof userResponseSchema> {
  return {
    user_id: user.userId,
    org_id: user.orgId,
    email: user.email,
    role: user.role,
    ...verificationFlagsJson(user),
    kyc_status: user.kycStatus,
    accreditation_status: user.accreditationStatus,
    created_at: isoTime(user.createdAt),
    updated_at: isoTime(user.updatedAt),
  };
}

/** An issuer registration; `issuer_id` names it in `DELETE /identity/organizations/:org_id/issuers/:issuer_id`. */
export function issuerRegistrationJson(
  registration: IssuerRegistrationRecord,
): z.infer<typeof issuerRegistrationResponseSchema> {
  const warnings = registrationWarnings(registration);
  return {
    issuer_id: registration.registrationId,
    org_id: registration.orgId,
    issuer: registration.issuer,
    client_ids: registration.clientIds,
    allowed_algorithms: registration.allowedAlgorithms,
    email_linking: registration.emailLinking,
    subject_claim: registration.subjectClaim,
    trust_username_claims: registration.trustUsernameClaims,
    link_scope: linkScopeOf(registration),
    ...policyJson(policyOf(registration)),
    created_at: isoTime(registration.createdAt),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

function policyJson(policy: IssuerPolicyRecord) {
  return {
    condition: policy.condition,
    claim_mappings: policy.claimMappings,
    policy_version: policy.version,
  };
}

/** The new org with its first issuer's fields at the top level, as before orgs had several. */
export function registeredOrganizationJson({
  organization,
  issuer,
  apiKey,
  apiKeyId,
  warnings,
}: RegisteredOrganization): z.infer<typeof registeredOrganizationResponseSchema> {
  // The registration's own warnings are among the org's: they are listed once.
  const { org_id, created_at, warnings: _issuerWarnings, ...issuerFields } = issuerRegistrationJson(issuer);
  return {
    org_id: organization.orgId,
    name: organization.name,
    audience: organization.audience,
    ...issuerFields,
    provisioning: organization.provisioning,
    dpop_bound_access_tokens: organization.dpopBoundAccessTokens === true,
    api_key: apiKey,
    api_key_id: apiKeyId,
    created_at: isoTime(organization.createdAt),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** An organization's state after an admin change; never its keys. */
export function organizationStatusJson(
  org: OrganizationRecord,
): z.infer<typeof organizationStatusResponseSchema> {
  return {
    org_id: org.orgId,
    name: org.name,
    provisioning: org.provisioning,
    dpop_bound_access_tokens: org.dpopBoundAccessTokens === true,
    suspended: org.suspendedAt !== null,
    suspended_at: org.suspendedAt === null ? null : isoTime(org.suspendedAt),
  };
}

export function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

/** A subscription as listed: never with its secret, which is shown only at creation and rotation. */
export function webhookSubscriptionJson(
  subscription: Omit<WebhookSubscriptionRecord, 'secret' | 'previousSecret'>,
): z.infer<typeof webhookSubscriptionResponseSchema> {
  return {
    id: subscription.subscriptionId,
    url: subscription.url,
    description: subscription.description,
    eventTypes: subscription.eventTypes,
    disabled: subscription.disabledAt !== null,
    created_at: isoTime(subscription.createdAt),
  };
}

export function webhookDeliveryJson(
  delivery: WebhookDeliveryRecord,
): z.infer<typeof webhookDeliveryResponseSchema> {
  return {
    id: delivery.deliveryId,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    status: delivery.status,
    next_attempt_at: delivery.nextAttemptAt === null ? null : isoTime(delivery.nextAttemptAt),
    attempts: delivery.attempts.map((attempt) => ({
      attempted_at: isoTime(attempt.attemptedAt),
      response_status: attempt.responseStatus,
      duration_ms: attempt.durationMs,
      error: attempt.error,
      response_excerpt: attempt.responseExcerpt,
    })),
    created_at: isoTime(delivery.createdAt),
  };
}

/** `POST /identity/auth/revoke`: nothing to say, whether the token existed or not (RFC 7009 §2.2). */
export const emptyResponseSchema = z.strictObject({}).register(apiSchemas, { id: 'Empty' });

const explainedErrorSchema = z.strictObject({
  error: z.string(),
  error_description: z.string(),
  status: z.number().int(),
});

export const exchangeExplanationResponseSchema = z
  .strictObject({
    would_succeed: z.boolean(),
    error: explainedErrorSchema.nullable(),
    steps: z.array(
      z.strictObject({
        step: z.string(),
        result: z.enum(['pass', 'fail', 'skipped']),
        seen: z.record(z.string(), z.unknown()).describe('Never the token, a key or a secret.'),
        error: explainedErrorSchema.optional(),
        fix: z.string().optional(),
        note: z.string().optional(),
      }),
    ),
  })
  .register(apiSchemas, { id: 'ExchangeExplanation' });

export const userDeletedResponseSchema = z
  .strictObject({ user_id: z.uuid(), deleted: z.literal(true) })
  .register(apiSchemas, { id: 'UserDeleted' });

export const organizationDeletedResponseSchema = z
  .strictObject({ org_id: z.uuid(), deleted: z.literal(true) })
  .register(apiSchemas, { id: 'OrganizationDeleted' });

export const apiKeyIssuedResponseSchema = z
  .strictObject({
    org_id: z.uuid(),
    api_key: z.string().describe('Shown only here: store it in your secret store.'),
    api_key_id: z.uuid(),
    created_at: isoTimeSchema,
  })
  .register(apiSchemas, { id: 'ApiKeyIssued' });

export const apiKeyRevokedResponseSchema = z
  .strictObject({ org_id: z.uuid(), api_key_id: z.uuid(), revoked: z.literal(true) })
  .register(apiSchemas, { id: 'ApiKeyRevoked' });

export const issuerListResponseSchema = z
  .strictObject({ issuers: z.array(issuerRegistrationResponseSchema) })
  .register(apiSchemas, { id: 'IssuerRegistrationList' });

export const issuerRemovedResponseSchema = z
  .strictObject({ org_id: z.uuid(), issuer_id: z.uuid(), removed: z.literal(true) })
  .register(apiSchemas, { id: 'IssuerRegistrationRemoved' });

export const audienceResponseSchema = z
  .strictObject({ org_id: z.uuid(), audience: z.array(z.string()) })
  .register(apiSchemas, { id: 'OrganizationAudience' });

export const webhookCreatedResponseSchema = z
  .strictObject({
    id: z.uuid(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    signing_secret: z.string().describe('Shown only here and at rotation: verify deliveries with it.'),
    created_at: isoTimeSchema,
  })
  .register(apiSchemas, { id: 'WebhookCreated' });

export const webhookListResponseSchema = z
  .strictObject({ webhooks: z.array(webhookSubscriptionResponseSchema) })
  .register(apiSchemas, { id: 'WebhookSubscriptionList' });

export const webhookDeletedResponseSchema = z
  .strictObject({ id: z.uuid(), deleted: z.literal(true) })
  .register(apiSchemas, { id: 'WebhookDeleted' });

export const webhookSecretResponseSchema = z
  .strictObject({ id: z.uuid(), signing_secret: z.string() })
  .register(apiSchemas, { id: 'WebhookSecret' });

export const webhookDeliveriesResponseSchema = z
  .strictObject({ deliveries: z.array(webhookDeliveryResponseSchema) })
  .register(apiSchemas, { id: 'WebhookDeliveryList' });

/** A public key; never a private member (`d`, `p`, `q`, ...), which the strict schema refuses. */
const publicJwkSchema = z.strictObject({
  kty: z.enum(['RSA', 'EC', 'OKP']),
  kid: z.string(),
  alg: z.string(),
  use: z.literal('sig'),
  n: z.string().optional(),
  e: z.string().optional(),
  crv: z.string().optional(),
  x: z.string().optional(),
  y: z.string().optional(),
});

export const jwksResponseSchema = z
  .strictObject({ keys: z.array(publicJwkSchema) })
  .register(apiSchemas, { id: 'JsonWebKeySet' });

/** RFC 8414 authorization server metadata: the OAuth endpoints and what they accept. */
export const oauthMetadataResponseSchema = authorizationServerMetadataSchema.register(apiSchemas, {
  id: 'AuthorizationServerMetadata',
});

/** The OpenID configuration: the authorization server metadata, and what JWT libraries look for. */
export const openIdConfigurationResponseSchema = authorizationServerMetadataSchema
  .extend({
    scopes_supported: z.array(z.string()),
    access_token_signing_alg_values_supported: z.array(z.string()),
  })
  .register(apiSchemas, { id: 'OpenIdConfiguration' });

/** MicroProfile Health JSON; `data` only for admins. */
export const healthResponseSchema = z
  .strictObject({
    status: z.enum(['UP', 'DOWN']),
    checks: z.array(
      z.strictObject({
        name: z.string(),
        status: z.enum(['UP', 'DOWN']),
        data: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
      }),
    ),
  })
  .register(apiSchemas, { id: 'Health' });

/** The body of every error answer; each operation's document narrows `error` to the codes it can answer. */
export const errorResponseSchema = z
  .strictObject({
    error: z.enum(ERROR_CODES as [RialtoErrorCode, ...RialtoErrorCode[]]),
    error_description: z.string().describe('For people; branch on `error`, never on this text.'),
  })
  .register(apiSchemas, { id: 'Error' });

/** The answer of `POST /oauth/token` (RFC 6749 §5.1; `issued_token_type` for token exchange, RFC 8693 §2.2.1). */
export const oauthTokenResponseSchema = tokenResponseSchema
  .extend({
    refresh_token: z
      .string()
      .describe('Single use: refresh it at `POST /oauth/token` (`grant_type=refresh_token`).'),
    issued_token_type: z.literal(ACCESS_TOKEN_TYPE).optional(),
  })
  .register(apiSchemas, { id: 'OAuthTokenResponse' });

/** An error of the OAuth endpoints (RFC 6749 §5.2), with the exchange's own code beside it. */
export const oauthErrorResponseSchema = z
  .strictObject({
    error: z.enum(OAUTH_ERROR_CODES as [OAuthErrorCode, ...OAuthErrorCode[]]),
    error_description: z.string().describe('For people; branch on `error`, never on this text.'),
    rialto_error: z
      .enum(ERROR_CODES as [RialtoErrorCode, ...RialtoErrorCode[]])
      .optional()
      .describe("The exchange's own code for the same failure (`token_expired`, `org_mismatch`, …)."),
  })
  .register(apiSchemas, { id: 'OAuthError' });

export const openApiDocumentResponseSchema = z
  .strictObject({
    openapi: z.literal('3.1.0'),
    info: z.record(z.string(), z.unknown()),
    tags: z.array(z.strictObject({ name: z.string() })),
    paths: z.record(z.string(), z.unknown()),
    components: z.record(z.string(), z.unknown()),
  })
  .register(apiSchemas, { id: 'OpenApiDocument' });

const clientAuthenticationFields = {
  client_id: z
    .string()
    .optional()
    .describe(
      'The organization id. With `client_secret` (client_secret_post), or beside Basic or X-API-Key.',
    ),
  client_secret: z
    .string()
    .optional()
    .describe(
      "The organization's API key (client_secret_post); or send it by HTTP Basic or the X-API-Key header.",
    ),
};

const tokenTypeHintSchema = z
  .string()
  .optional()
  .describe('`refresh_token` or `access_token`: a hint only; the token is recognized whatever it says.');

/** `POST /oauth/revoke` (RFC 7009 §2.1), form-urlencoded. */
export const oauthRevocationRequestSchema = z
  .object({
    token: z.string().describe('The refresh token to revoke (its whole family ends).'),
    token_type_hint: tokenTypeHintSchema,
    ...clientAuthenticationFields,
  })
  .register(apiSchemas, { id: 'OAuthRevocationRequest' });

/** `POST /oauth/introspect` (RFC 7662 §2.1), form-urlencoded. */
export const oauthIntrospectionRequestSchema = z
  .object({
    token: z.string().describe('An access token or refresh token of this service.'),
    token_type_hint: tokenTypeHintSchema,
    ...clientAuthenticationFields,
  })
  .register(apiSchemas, { id: 'OAuthIntrospectionRequest' });

/**
 * RFC 7662 §2.2. An inactive token is `{ "active": false }` and nothing else, whatever made it so;
 * an active one carries every other member.
 */
export const oauthIntrospectionResponseSchema = z
  .union([
    z.strictObject({ active: z.literal(false) }),
    z.strictObject({
      active: z.literal(true),
      token_type: z
        .enum(['Bearer', 'DPoP', 'refresh_token'])
        .describe(
          'An access token\u2019s type (RFC 6749 §7.1): `Bearer`, or `DPoP` when bound to a key; `refresh_token` for a refresh token.',
        ),
      scope: z.string(),
      client_id: z.string().describe('The organization id: the OAuth client the token was issued to.'),
      sub: z.string(),
      exp: z.number().int(),
      iat: z.number().int(),
      iss: z.string(),
      aud: z.union([z.string(), z.array(z.string())]),
      org_id: z.string(),
      user_id: z.string(),
      cnf: z
        .strictObject({ jkt: z.string() })
        .optional()
        .describe('The DPoP key the access token is bound to (RFC 9449 §6.2).'),
    }),
  ])
  .register(apiSchemas, { id: 'OAuthIntrospection' });
