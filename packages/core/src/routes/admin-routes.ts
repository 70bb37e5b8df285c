import { authenticateApiKeyOrAdmin } from '../admin-auth.js';
import { RialtoError } from '../errors.js';
import { json } from '../internal/http.js';
import { isUuid, parseBody, type Route } from '../internal/route.js';
import { issuerRegistrationSchema } from '../issuer-registrations.js';
import {
  audienceUpdateSchema,
  checkAllowedAudiences,
  organizationPatchSchema,
  registrationSchema,
} from '../organizations.js';
import type { Services } from '../services.js';
import {
  isoTime,
  issuerRegistrationJson,
  organizationStatusJson,
  registeredOrganizationJson,
} from '../wire-format.js';

/**
 * Organization registration, issuers, suspension, provisioning mode and deletion, API key
 * rotation, and audience updates.
 */
export function adminRoutes({ adminAuth, apiKeys, organizations, issuers, options }: Services): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/identity\/organizations$/,
      scheme: 'bearer',
      async run(request) {
        await adminAuth.require(request);
        const registered = await organizations.register(parseBody(registrationSchema, request));
        return json(201, registeredOrganizationJson(registered));
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/organizations\/([^/]+)\/(suspend|resume)$/,
      scheme: 'bearer',
      async run(request, [orgId, action]) {
        await adminAuth.require(request);
        const org = isUuid(orgId) ? await organizations.setSuspended(orgId, action === 'suspend') : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        return json(200, organizationStatusJson(org));
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/identity\/organizations\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const { provisioning } = parseBody(organizationPatchSchema, request);
        const org = isUuid(orgId) ? await organizations.setProvisioning(orgId, provisioning) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        return json(200, organizationStatusJson(org));
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/identity\/organizations\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const removed = isUuid(orgId) && (await organizations.remove(orgId));
        if (!removed) throw new RialtoError('not_found', 'No such organization.');
        return json(200, { org_id: orgId, deleted: true });
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/organizations\/([^/]+)\/api-keys$/,
      scheme: 'bearer',
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const org = isUuid(orgId) ? await organizations.get(orgId) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        const { apiKey, record } = await apiKeys.issue(org.orgId);
        return json(201, {
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
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const input = parseBody(issuerRegistrationSchema, request);
        if (!isUuid(orgId)) throw new RialtoError('not_found', 'No such organization.');
        return json(201, issuerRegistrationJson(await issuers.add(orgId, input)));
      },
    },
    {
      method: 'GET',
      pattern: /^\/identity\/organizations\/([^/]+)\/issuers$/,
      scheme: 'bearer',
      async run(request, [orgId]) {
        await adminAuth.require(request);
        const org = isUuid(orgId) ? await organizations.get(orgId) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        return json(200, { issuers: (await issuers.list(org.orgId)).map(issuerRegistrationJson) });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/identity\/organizations\/([^/]+)\/issuers\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [orgId, registrationId]) {
        await adminAuth.require(request);
        const removed =
          isUuid(orgId) && isUuid(registrationId) && (await issuers.remove(orgId, registrationId));
        if (!removed) throw new RialtoError('not_found', 'No such issuer registration in this organization.');
        return json(200, { org_id: orgId, issuer_id: registrationId, removed: true });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/identity\/organizations\/([^/]+)\/api-keys\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [orgId, keyId]) {
        await adminAuth.require(request);
        const revoked = isUuid(orgId) && isUuid(keyId) && (await apiKeys.revoke(orgId, keyId));
        if (!revoked) throw new RialtoError('not_found', 'No such active API key in this organization.');
        return json(200, { org_id: orgId, api_key_id: keyId, revoked: true });
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/identity\/auth\/idp\/([^/]+)$/,
      scheme: 'api_key',
      async run(request, [orgId]) {
        const keyOrgId = await authenticateApiKeyOrAdmin(request, apiKeys, adminAuth);
        if (keyOrgId !== undefined && keyOrgId !== orgId) throw new RialtoError('org_mismatch');
        const { audience } = parseBody(audienceUpdateSchema, request);
        // The host's allow-list binds partners; the service admin may set any audience.
        if (keyOrgId !== undefined) checkAllowedAudiences(audience, options.allowedAudiences);
        const org = isUuid(orgId) ? await organizations.setAudience(orgId, audience) : null;
        if (!org) throw new RialtoError('not_found', 'No such organization.');
        return json(200, { org_id: org.orgId, audience: org.audience });
      },
    },
  ];
}
