import type { RegisteredOrganization } from './organizations.js';
import type {
  IssuerRegistrationRecord,
  OrganizationRecord,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookSubscriptionRecord,
} from './store.js';
import { verificationFlags } from './verification-flags.js';

/** Records as the HTTP API shows them: snake_case, ISO 8601 timestamps. */

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

export function userJson(user: UserRecord) {
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
export function issuerRegistrationJson(registration: IssuerRegistrationRecord) {
  return {
    issuer_id: registration.registrationId,
    org_id: registration.orgId,
    issuer: registration.issuer,
    client_ids: registration.clientIds,
    allowed_algorithms: registration.allowedAlgorithms,
    email_linking: registration.emailLinking,
    subject_claim: registration.subjectClaim,
    trust_username_claims: registration.trustUsernameClaims,
    created_at: isoTime(registration.createdAt),
  };
}

/** The new org with its first issuer's fields at the top level, as before orgs had several. */
export function registeredOrganizationJson({
  organization,
  issuer,
  apiKey,
  apiKeyId,
  warnings,
}: RegisteredOrganization) {
  const { org_id, created_at, ...issuerFields } = issuerRegistrationJson(issuer);
  return {
    org_id: organization.orgId,
    name: organization.name,
    audience: organization.audience,
    ...issuerFields,
    provisioning: organization.provisioning,
    api_key: apiKey,
    api_key_id: apiKeyId,
    created_at: isoTime(organization.createdAt),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** An organization's state after an admin change; never its keys. */
export function organizationStatusJson(org: OrganizationRecord) {
  return {
    org_id: org.orgId,
    name: org.name,
    provisioning: org.provisioning,
    suspended: org.suspendedAt !== null,
    suspended_at: org.suspendedAt === null ? null : isoTime(org.suspendedAt),
  };
}

export function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

/** A subscription as listed: never with its secret, which is shown only at creation and rotation. */
export function webhookSubscriptionJson(subscription: WebhookSubscriptionRecord) {
  return {
    id: subscription.subscriptionId,
    url: subscription.url,
    description: subscription.description,
    eventTypes: subscription.eventTypes,
    disabled: subscription.disabledAt !== null,
    created_at: isoTime(subscription.createdAt),
  };
}

export function webhookDeliveryJson(delivery: WebhookDeliveryRecord) {
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
