import { RialtoError } from '../errors.js';
import { isUuid } from '../internal/is-uuid.js';
import type { GeneratedApiKey } from '../organizations/api-keys.js';
import type { Services } from '../services.js';
import { type ApiKeySummary, apiKeySummary, existingOrganization } from './organizations.js';

/**
 * Organizations' API keys, from host code, as the admin routes under
 * `/identity/organizations/:org_id/api-keys` and the CLI manage them.
 */
export interface RialtoApiKeys {
  /**
   * Issues another API key for an organization (rotation: issue, deploy, then revoke the old one),
   * as `POST /identity/organizations/:org_id/api-keys` does. The key is in the result only; the store
   * keeps its hash.
   * @throws RialtoError `not_found`
   */
  issue(orgId: string): Promise<GeneratedApiKey>;
  /**
   * Revokes an API key, as `DELETE /identity/organizations/:org_id/api-keys/:api_key_id` does: it
   * stops working on this instance at once and on others within `lookupCacheTtlSeconds`. The
   * organization's users keep their sessions (suspend the organization to end them).
   * @throws RialtoError `not_found` when the organization has no such active key
   */
  revoke(orgId: string, apiKeyId: string): Promise<void>;
  /**
   * The organization's active API keys, oldest first, as `GET /identity/organizations/:org_id/api-keys`
   * answers: ids and dates only (the store holds no key, and the hash stays inside).
   * @throws RialtoError `not_found`
   */
  list(orgId: string): Promise<ApiKeySummary[]>;
}

export function createApiKeysFacade({ apiKeys, organizations, store }: Services): RialtoApiKeys {
  return {
    async issue(orgId) {
      const org = existingOrganization(isUuid(orgId) ? await organizations.get(orgId) : null);
      return apiKeys.issue(org.orgId);
    },
    async list(orgId) {
      const org = existingOrganization(isUuid(orgId) ? await organizations.get(orgId) : null);
      return (await store.listActiveApiKeys(org.orgId)).map(apiKeySummary);
    },
    async revoke(orgId, apiKeyId) {
      if (!(isUuid(orgId) && isUuid(apiKeyId) && (await apiKeys.revoke(orgId, apiKeyId)))) {
        throw new RialtoError('not_found', 'No such active API key in this organization.');
      }
    },
  };
}
