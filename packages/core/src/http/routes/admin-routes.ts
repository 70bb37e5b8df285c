import { RialtoError } from '../../errors.js';
import { issuerRegistrationSchema } from '../../issuers/issuer-registrations.js';
import {
  audienceUpdateSchema,
  checkAllowedAudiences,
  organizationPatchSchema,
  registrationSchema,
} from '../../organizations/organizations.js';
import type { Services } from '../../services.js';
import { authenticateApiKeyOrAdmin } from '../admin-auth.js';
import { respond } from '../messages.js';
import { isUuid, parseBody, type Route } from '../route.js';
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
 * rotation, and audience updates.
 */
export function adminRoutes({ adminAuth, apiKeys, organizations, issuers, options }: Services): Route[] {
  function suspensionRoute(action: 'suspend' | 'resume'): Route {
    const isSuspending = action === 'suspend';
    return {
      method: 'POST',
      pattern: new RegExp(`^\\/identity\\/organizations\\/([^/]+)\\/${action}$`),
      scheme: 'bearer',
      doc: {
        path: `/identity/organizations/{org_id}/${action}`,
        operationId: isSuspending ? 'suspendOrganization' : 'resumeOrganization',
        summary: isSuspending
          ? 'Suspend an organization: its exchanges and refreshes answer organization_suspended'
          : 'Resume a suspended organization',
        tag: 'Organizations',
        security: ['adminToken'],
        responses: { 200: organizationStatusResponseSchema },
        errors: ['not_found', 'temporarily_unavailable'],
      },
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const org = isUuid(orgId) ? await organizations.setSuspended(orgId, isSuspending) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        return respond(200, organizationStatusResponseSchema, organizationStatusJson(org));
      },
    };
  }

  return [
    {
      method: 'POST',
      pattern: /^\/identity\/organizations$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/organizations',
        operationId: 'registerOrganization',
        summary: 'Register an organization with its first issuer; its API key is shown only here',
        tag: 'Organizations',
        security: ['adminToken'],
        requestBody: registrationSchema,
        responses: { 201: registeredOrganizationResponseSchema },
        errors: ['not_found', 'temporarily_unavailable', 'invalid_request', 'conflict'],
      },
      async run(request) {
        await adminAuth.require(request);
        const registered = await organizations.register(parseBody(registrationSchema, request));
        return respond(201, registeredOrganizationResponseSchema, registeredOrganizationJson(registered));
      },
    },
    suspensionRoute('suspend'),
    suspensionRoute('resume'),
    {
      method: 'PATCH',
      pattern: /^\/identity\/organizations\/([^/]+)$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/organizations/{org_id}',
        operationId: 'setOrganizationProvisioning',
        summary: 'Set whether unknown identities are created or only linked to pre-created users',
        tag: 'Organizations',
        security: ['adminToken'],
        requestBody: organizationPatchSchema,
        responses: { 200: organizationStatusResponseSchema },
        errors: ['not_found', 'temporarily_unavailable', 'invalid_request'],
      },
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const { provisioning } = parseBody(organizationPatchSchema, request);
        const org = isUuid(orgId) ? await organizations.setProvisioning(orgId, provisioning) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        return respond(200, organizationStatusResponseSchema, organizationStatusJson(org));
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/identity\/organizations\/([^/]+)$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/organizations/{org_id}',
        operationId: 'deleteOrganization',
        summary: 'Delete an organization and all its data',
        tag: 'Organizations',
        security: ['adminToken'],
        responses: { 200: organizationDeletedResponseSchema },
        errors: ['not_found', 'temporarily_unavailable'],
      },
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const removed = isUuid(orgId) && (await organizations.remove(orgId));
        if (!removed) throw new RialtoError('not_found', 'No such organization.');
        return respond(200, organizationDeletedResponseSchema, { org_id: orgId, deleted: true });
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/organizations\/([^/]+)\/api-keys$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/organizations/{org_id}/api-keys',
        operationId: 'issueApiKey',
        summary: 'Issue another API key (rotation); the key is shown only here',
        tag: 'Organizations',
        security: ['adminToken'],
        responses: { 201: apiKeyIssuedResponseSchema },
        errors: ['not_found', 'temporarily_unavailable'],
      },
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const org = isUuid(orgId) ? await organizations.get(orgId) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        const { apiKey, record } = await apiKeys.issue(org.orgId);
        return respond(201, apiKeyIssuedResponseSchema, {
          org_id: org.orgId,
          api_key: apiKey,
          api_key_id: record.keyId,
          created_at: isoTime(record.createdAt),
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/organizations\/([^/]+)\/issuers$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/organizations/{org_id}/issuers',
        operationId: 'addIssuer',
        summary: 'Register another issuer for the organization',
        tag: 'Organizations',
        security: ['adminToken'],
        requestBody: issuerRegistrationSchema,
        responses: { 201: issuerRegistrationResponseSchema },
        errors: ['not_found', 'temporarily_unavailable', 'invalid_request', 'conflict'],
      },
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const input = parseBody(issuerRegistrationSchema, request);
        if (!isUuid(orgId)) throw new RialtoError('not_found', 'No such organization.');
        return respond(
          201,
          issuerRegistrationResponseSchema,
          issuerRegistrationJson(await issuers.add(orgId, input)),
        );
      },
    },
    {
      method: 'GET',
      pattern: /^\/identity\/organizations\/([^/]+)\/issuers$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/organizations/{org_id}/issuers',
        operationId: 'listIssuers',
        summary: "List the organization's issuer registrations, oldest first",
        tag: 'Organizations',
        security: ['adminToken'],
        responses: { 200: issuerListResponseSchema },
        errors: ['not_found', 'temporarily_unavailable'],
      },
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const org = isUuid(orgId) ? await organizations.get(orgId) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        return respond(200, issuerListResponseSchema, {
          issuers: (await issuers.list(org.orgId)).map(issuerRegistrationJson),
        });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/identity\/organizations\/([^/]+)\/issuers\/([^/]+)$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/organizations/{org_id}/issuers/{issuer_id}',
        operationId: 'removeIssuer',
        summary: 'Remove an issuer registration',
        tag: 'Organizations',
        security: ['adminToken'],
        responses: { 200: issuerRemovedResponseSchema },
        errors: ['not_found', 'temporarily_unavailable'],
      },
      async run(request, [orgId, registrationId]) {
        await adminAuth.require(request);
        const removed =
          isUuid(orgId) && isUuid(registrationId) && (await issuers.remove(orgId, registrationId));
        if (!removed) throw new RialtoError('not_found', 'No such issuer registration in this organization.');
        return respond(200, issuerRemovedResponseSchema, {
          org_id: orgId,
          issuer_id: registrationId,
          removed: true,
        });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/identity\/organizations\/([^/]+)\/api-keys\/([^/]+)$/,
      scheme: 'bearer',
      doc: {
        path: '/identity/organizations/{org_id}/api-keys/{api_key_id}',
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key',
        tag: 'Organizations',
        security: ['adminToken'],
        responses: { 200: apiKeyRevokedResponseSchema },
        errors: ['not_found', 'temporarily_unavailable'],
      },
      async run(request, [orgId, keyId]) {
        await adminAuth.require(request);
        const revoked = isUuid(orgId) && isUuid(keyId) && (await apiKeys.revoke(orgId, keyId));
        if (!revoked) throw new RialtoError('not_found', 'No such active API key in this organization.');
        return respond(200, apiKeyRevokedResponseSchema, { org_id: orgId, api_key_id: keyId, revoked: true });
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/identity\/auth\/idp\/([^/]+)$/,
      scheme: 'api_key',
      doc: {
        path: '/identity/auth/idp/{org_id}',
        operationId: 'setOrganizationAudience',
        summary: "Set the audiences of the organization's access tokens",
        tag: 'Organizations',
        security: ['apiKey', 'adminToken'],
        requestBody: audienceUpdateSchema,
        responses: { 200: audienceResponseSchema },
        errors: [
          'missing_api_key',
          'org_mismatch',
          'invalid_request',
          'not_found',
          'temporarily_unavailable',
        ],
      },
      async run(request, [orgId]) {
        const keyOrgId = await authenticateApiKeyOrAdmin(request, apiKeys, adminAuth);
        if (keyOrgId !== undefined && keyOrgId !== orgId) throw new RialtoError('org_mismatch');
        const { audience } = parseBody(audienceUpdateSchema, request);
        // The host's allow-list binds partners; the service admin may set any audience.
        if (keyOrgId !== undefined) checkAllowedAudiences(audience, options.allowedAudiences);
        const org = isUuid(orgId) ? await organizations.setAudience(orgId, audience) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        return respond(200, audienceResponseSchema, { org_id: org.orgId, audience: org.audience });
      },
    },
  ];
}
