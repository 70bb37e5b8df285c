import { z } from 'zod';
import type { ApiKeySummary, OrganizationOverview } from '../facade/organizations.js';
import type { SigningKeyStatus } from '../keys/signing-keys.js';
import { PROVISIONING_MODES } from '../organizations/organizations.js';
import type { OrganizationRecord } from '../store/store.js';
import { apiSchemas } from './api-schemas.js';
import {
  isoTime,
  issuerRegistrationJson,
  issuerRegistrationResponseSchema,
  userResponseSchema,
} from './wire-format.js';

/*
 * What operators (the admin console, the CLI, scripts) read, as the HTTP API shows it: pages of
 * organizations and users, an organization's overview, signing keys. Never a key, a hash or a secret.
 */

const isoTimeSchema = z.iso.datetime();
const nextCursorSchema = z
  .string()
  .nullable()
  .describe('Pass it as `cursor` for the next page; `null` on the last page.');

export const organizationSummaryResponseSchema = z
  .strictObject({
    org_id: z.uuid(),
    name: z.string(),
    audience: z.array(z.string()),
    provisioning: z.enum(PROVISIONING_MODES),
    suspended: z.boolean(),
    suspended_at: isoTimeSchema.nullable(),
    created_at: isoTimeSchema,
    updated_at: isoTimeSchema,
  })
  .register(apiSchemas, { id: 'OrganizationSummary' });

export const organizationPageResponseSchema = z
  .strictObject({ organizations: z.array(organizationSummaryResponseSchema), next_cursor: nextCursorSchema })
  .register(apiSchemas, { id: 'OrganizationPage' });

export const apiKeySummaryResponseSchema = z
  .strictObject({ api_key_id: z.uuid(), created_at: isoTimeSchema })
  .register(apiSchemas, { id: 'ApiKeySummary' });

export const apiKeyListResponseSchema = z
  .strictObject({ org_id: z.uuid(), api_keys: z.array(apiKeySummaryResponseSchema) })
  .register(apiSchemas, { id: 'ApiKeyList' });

export const organizationOverviewResponseSchema = z
  .strictObject({
    ...organizationSummaryResponseSchema.shape,
    api_keys: z.array(apiKeySummaryResponseSchema).describe('Active keys, oldest first.'),
    issuers: z.array(issuerRegistrationResponseSchema).describe('Issuer registrations, oldest first.'),
  })
  .register(apiSchemas, { id: 'OrganizationOverview' });

export const userPageResponseSchema = z
  .strictObject({ users: z.array(userResponseSchema), next_cursor: nextCursorSchema })
  .register(apiSchemas, { id: 'UserPage' });

export const signingKeyStatusResponseSchema = z
  .strictObject({
    kid: z.string(),
    use: z.enum(['access_token', 'refresh_token']),
    alg: z.string(),
    source: z.enum(['store', 'host']).describe('`host`: supplied through options, rotated there.'),
    state: z.enum(['next', 'active', 'retired', 'expired']),
    created_at: isoTimeSchema,
    activates_at: isoTimeSchema.nullable(),
    retired_at: isoTimeSchema.nullable(),
    verifies_until: isoTimeSchema.nullable(),
  })
  .register(apiSchemas, { id: 'SigningKeyStatus' });

export const signingKeyListResponseSchema = z
  .strictObject({ keys: z.array(signingKeyStatusResponseSchema) })
  .register(apiSchemas, { id: 'SigningKeyList' });

export const signingKeyRotationRequestSchema = z
  .strictObject({
    use: z
      .enum(['access_token', 'refresh_token'], { error: 'must be access_token or refresh_token' })
      .default('access_token')
      .describe('Which key to rotate.'),
  })
  .register(apiSchemas, { id: 'SigningKeyRotationRequest' });

export const signingKeyRotatedResponseSchema = z
  .strictObject({
    use: z.enum(['access_token', 'refresh_token']),
    kid: z.string(),
    activates_at: isoTimeSchema.describe('Published in the JWKS now; signs from then on.'),
  })
  .register(apiSchemas, { id: 'SigningKeyRotated' });

export function organizationSummaryJson(
  org: OrganizationRecord,
): z.infer<typeof organizationSummaryResponseSchema> {
  return {
    org_id: org.orgId,
    name: org.name,
    audience: org.audience,
    provisioning: org.provisioning,
    suspended: org.suspendedAt !== null,
    suspended_at: org.suspendedAt === null ? null : isoTime(org.suspendedAt),
    created_at: isoTime(org.createdAt),
    updated_at: isoTime(org.updatedAt),
  };
}

export function apiKeySummaryJson(key: ApiKeySummary): z.infer<typeof apiKeySummaryResponseSchema> {
  return { api_key_id: key.keyId, created_at: isoTime(key.createdAt) };
}

export function organizationOverviewJson({
  organization,
  apiKeys,
  issuers,
}: OrganizationOverview): z.infer<typeof organizationOverviewResponseSchema> {
  return {
    ...organizationSummaryJson(organization),
    api_keys: apiKeys.map(apiKeySummaryJson),
    issuers: issuers.map(issuerRegistrationJson),
  };
}

const isoTimeOrNull = (epochSeconds: number | null) => (epochSeconds === null ? null : isoTime(epochSeconds));

export function signingKeyStatusJson(key: SigningKeyStatus): z.infer<typeof signingKeyStatusResponseSchema> {
  return {
    kid: key.kid,
    use: key.use,
    alg: key.alg,
    source: key.source,
    state: key.state,
    created_at: isoTime(key.createdAt),
    activates_at: isoTimeOrNull(key.activatesAt),
    retired_at: isoTimeOrNull(key.retiredAt),
    verifies_until: isoTimeOrNull(key.verifiesUntil),
  };
}
