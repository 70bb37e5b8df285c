import type { FacadeGroups } from '../../facade/index.js';
import { changeIssuerPolicy } from '../../facade/issuers.js';
import {
  issuerPolicyPatchSchema,
  issuerRegistrationSchema,
  issuerRemovalQuerySchema,
} from '../../issuers/issuer-registrations.js';
import {
  audienceUpdateSchema,
  checkAllowedAudiences,
  organizationPatchSchema,
  registrationSchema,
} from '../../organizations/organizations.js';
import type { Services } from '../../services.js';
import { respond } from '../messages.js';
import { declareRoute, type Route } from '../route.js';
import {
  apiKeyIssuedResponseSchema,
  apiKeyRevokedResponseSchema,
  audienceResponseSchema,
  isoTime,
  issuerListResponseSchema,
  issuerRegistrationJson,
  issuerRegistrationResponseSchema,
  issuerRemovedResponseSchema,
  organizationDeletedResponseSchema,
  organizationStatusJson,
  organizationStatusResponseSchema,
  registeredOrganizationJson,
  registeredOrganizationResponseSchema,
} from '../wire-format.js';

/**
 * Organization registration, issuers, suspension, provisioning mode and deletion, API key
 * rotation, and audience updates: each over the facade function host code calls.
 */
export function adminRoutes(services: Services, { organizations, apiKeys, issuers }: FacadeGroups): Route[] {
  const { options } = services;
  function suspensionRoute(action: 'suspend' | 'resume'): Route {
    const isSuspending = action === 'suspend';
    return declareRoute({
      route: `POST /identity/organizations/{org_id}/${action}`,
      credentials: ['adminToken'],
      operationId: isSuspending ? 'suspendOrganization' : 'resumeOrganization',
      summary: isSuspending
        ? 'Suspend an organization: its exchanges and refreshes answer organization_suspended'
        : 'Resume a suspended organization',
      tag: 'Organizations',
      responses: { 200: organizationStatusResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id }) {
        const org = await organizations[action](org_id);
        return respond(200, organizationStatusResponseSchema, organizationStatusJson(org));
      },
    });
  }

  return [
    declareRoute({
      route: 'POST /identity/organizations',
      credentials: ['adminToken'],
      body: registrationSchema,
      operationId: 'registerOrganization',
      summary: 'Register an organization with its first issuer; its API key is shown only here',
      tag: 'Organizations',
      responses: { 201: registeredOrganizationResponseSchema },
      errors: ['temporarily_unavailable', 'invalid_request', 'conflict'],
      async run(_request, _params, _caller, registration) {
        const registered = await organizations.register(registration);
        return respond(201, registeredOrganizationResponseSchema, registeredOrganizationJson(registered));
      },
    }),
    suspensionRoute('suspend'),
    suspensionRoute('resume'),
    declareRoute({
      route: 'PATCH /identity/organizations/{org_id}',
      credentials: ['adminToken'],
      body: organizationPatchSchema,
      operationId: 'setOrganizationProvisioning',
      summary:
        'Set whether unknown identities are created or only linked to pre-created users, and whether access tokens must be DPoP-bound',
      tag: 'Organizations',
      responses: { 200: organizationStatusResponseSchema },
      errors: ['not_found', 'temporarily_unavailable', 'invalid_request'],
      async run(_request, { org_id }, _caller, { provisioning, dpop_bound_access_tokens }) {
        let org =
          provisioning === undefined ? undefined : await organizations.setProvisioning(org_id, provisioning);
        if (dpop_bound_access_tokens !== undefined)
          org = await organizations.setDpopBoundAccessTokens(org_id, dpop_bound_access_tokens);
        // The schema asks for one of them at least.
        if (org === undefined) throw new TypeError('organizationPatchSchema let an empty patch through');
        return respond(200, organizationStatusResponseSchema, organizationStatusJson(org));
      },
    }),
    declareRoute({
      route: 'DELETE /identity/organizations/{org_id}',
      credentials: ['adminToken'],
      operationId: 'deleteOrganization',
      summary: 'Delete an organization and all its data',
      tag: 'Organizations',
      responses: { 200: organizationDeletedResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id }) {
        await organizations.remove(org_id);
        return respond(200, organizationDeletedResponseSchema, { org_id, deleted: true });
      },
    }),
    declareRoute({
      route: 'POST /identity/organizations/{org_id}/api-keys',
      credentials: ['adminToken'],
      operationId: 'issueApiKey',
      summary: 'Issue another API key (rotation); the key is shown only here',
      tag: 'Organizations',
      responses: { 201: apiKeyIssuedResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id }) {
        const { apiKey, record } = await apiKeys.issue(org_id);
        return respond(201, apiKeyIssuedResponseSchema, {
          org_id: record.orgId,
          api_key: apiKey,
          api_key_id: record.keyId,
          created_at: isoTime(record.createdAt),
        });
      },
    }),
    declareRoute({
      route: 'POST /identity/organizations/{org_id}/issuers',
      credentials: ['adminToken'],
      body: issuerRegistrationSchema,
      operationId: 'addIssuer',
      summary: 'Register another issuer for the organization',
      tag: 'Organizations',
      responses: { 201: issuerRegistrationResponseSchema },
      errors: ['not_found', 'temporarily_unavailable', 'invalid_request', 'conflict'],
      async run(_request, { org_id }, _caller, registration) {
        const added = await issuers.add(org_id, registration);
        return respond(201, issuerRegistrationResponseSchema, issuerRegistrationJson(added));
      },
    }),
    declareRoute({
      route: 'GET /identity/organizations/{org_id}/issuers',
      credentials: ['adminToken'],
      operationId: 'listIssuers',
      summary: "List the organization's issuer registrations, oldest first",
      tag: 'Organizations',
      responses: { 200: issuerListResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id }) {
        const registrations = await issuers.list(org_id);
        return respond(200, issuerListResponseSchema, { issuers: registrations.map(issuerRegistrationJson) });
      },
    }),
    declareRoute({
      route: 'PATCH /identity/organizations/{org_id}/issuers/{issuer_id}',
      credentials: ['adminToken'],
      body: issuerPolicyPatchSchema,
      operationId: 'updateIssuerPolicy',
      summary:
        "Change an issuer registration's exchange policy (condition, claim_mappings): a new policy version, audited",
      tag: 'Organizations',
      responses: { 200: issuerRegistrationResponseSchema },
      errors: ['not_found', 'temporarily_unavailable', 'invalid_request', 'conflict'],
      async run(_request, { org_id, issuer_id }, _caller, patch) {
        const updated = await changeIssuerPolicy(services, org_id, issuer_id, patch, 'admin_api');
        return respond(200, issuerRegistrationResponseSchema, issuerRegistrationJson(updated));
      },
    }),
    declareRoute({
      route: 'DELETE /identity/organizations/{org_id}/issuers/{issuer_id}',
      credentials: ['adminToken'],
      query: issuerRemovalQuerySchema,
      operationId: 'removeIssuer',
      summary: 'Remove an issuer registration, and with end_sessions=true end the sessions begun with it',
      description:
        'Its ID tokens are refused at once on this instance, on others within the lookup-cache TTL. By default sessions already begun with it continue. `end_sessions=true` also refuses the refresh tokens of every family begun with it (`invalid_grant` at both refresh routes, inactive at introspection); access tokens already issued live until they expire, and refresh tokens issued before registrations were recorded in them continue.',
      tag: 'Organizations',
      responses: { 200: issuerRemovedResponseSchema },
      errors: ['not_found', 'temporarily_unavailable', 'invalid_request'],
      async run(_request, { org_id, issuer_id }, _caller, _body, query) {
        await issuers.remove(org_id, issuer_id, { endSessions: query.end_sessions === 'true' });
        return respond(200, issuerRemovedResponseSchema, { org_id, issuer_id, removed: true });
      },
    }),
    declareRoute({
      route: 'DELETE /identity/organizations/{org_id}/api-keys/{api_key_id}',
      credentials: ['adminToken'],
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key',
      tag: 'Organizations',
      responses: { 200: apiKeyRevokedResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id, api_key_id }) {
        await apiKeys.revoke(org_id, api_key_id);
        return respond(200, apiKeyRevokedResponseSchema, { org_id, api_key_id, revoked: true });
      },
    }),
    declareRoute({
      route: 'PATCH /identity/auth/idp/{org_id}',
      credentials: ['apiKey', 'adminToken'],
      body: audienceUpdateSchema,
      operationId: 'setOrganizationAudience',
      summary: "Set the audiences of the organization's access tokens",
      tag: 'Organizations',
      responses: { 200: audienceResponseSchema },
      errors: ['org_mismatch', 'invalid_request', 'not_found', 'temporarily_unavailable'],
      async run(_request, { org_id }, caller, { audience }) {
        // The host's allow-list binds partners; the service admin may set any audience.
        if (caller.kind === 'api_key') checkAllowedAudiences(audience, options.allowedAudiences);
        const org = await organizations.setAudience(org_id, audience);
        return respond(200, audienceResponseSchema, { org_id: org.orgId, audience: org.audience });
      },
    }),
  ];
}
