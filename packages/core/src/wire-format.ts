import type { RegisteredOrganization } from './organizations.js';
import type { UserRecord } from './store.js';

/** Records as the HTTP API shows them: snake_case, ISO 8601 timestamps. */

export function userJson(user: UserRecord) {
  return {
    user_id: user.userId,
    org_id: user.orgId,
    email: user.email,
    onboarding_completed: user.onboardingCompleted,
    kyc_completed: user.kycCompleted,
    accredited: user.accredited,
    accreditation_verified: user.accreditationVerified,
    created_at: isoTime(user.createdAt),
    updated_at: isoTime(user.updatedAt),
  };
}

export function registeredOrganizationJson({ organization, apiKey, apiKeyId }: RegisteredOrganization) {
  return {
    org_id: organization.orgId,
    name: organization.name,
    issuer: organization.issuer,
    audience: organization.audience,
    client_ids: organization.clientIds,
    allowed_algorithms: organization.allowedAlgorithms,
    email_linking: organization.emailLinking,
    api_key: apiKey,
    api_key_id: apiKeyId,
    created_at: isoTime(organization.createdAt),
  };
}

export function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}
