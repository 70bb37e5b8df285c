/**
 * Organizations, their API keys and provisioning modes.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { ApiKeys, GeneratedApiKey } from './api-keys.js';
export { createApiKeys } from './api-keys.js';
export type { OrganizationRegistration, Organizations, RegisteredOrganization } from './organizations.js';
export {
  AUDIENCE_PATTERN,
  audienceUpdateSchema,
  checkAllowedAudiences,
  createOrganizations,
  organizationPatchSchema,
  PROVISIONING_MODES,
  REQUIRED_AUDIENCE,
  registrationSchema,
} from './organizations.js';
export { checkProvisioning } from './provisioning.js';
