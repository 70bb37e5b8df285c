/**
 * Partners' identity providers: registrations, their policies, discovery and key sets, fetched within bounds.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { Discovery, IssuerMetadata } from './discovery.js';
export { createDiscovery } from './discovery.js';
export { issuerAddressPolicy } from './issuer-address.js';
export type { CompiledPolicies, IssuerPolicyDiff } from './issuer-policies.js';
export { createCompiledPolicies, issuerPolicyRecord } from './issuer-policies.js';
export type {
  IssuerPolicyPatch,
  IssuerRegistrationInput,
  IssuerRegistrations,
  PolicyChangedBy,
} from './issuer-registrations.js';
export {
  createIssuerRegistrations,
  DEFAULT_LINK_SCOPE,
  EMAIL_LINKING_POLICIES,
  issuerConflict,
  issuerFields,
  issuerPolicyPatchSchema,
  issuerRegistrationSchema,
  LINK_SCOPES,
  registrationWarnings,
} from './issuer-registrations.js';
export type { SharedDocumentCache } from './remote-documents.js';
export { createRemoteDocuments } from './remote-documents.js';
export type { RemoteJwks } from './remote-jwks.js';
export { createRemoteJwks } from './remote-jwks.js';
