/**
 * Users: provisioning, lookup, roles, verification flags, lifecycle.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { ProvisionedUser, ProvisioningPreview } from './provision-user.js';
export { findLinkedUser, normalizeEmail, previewProvisioning, provisionUser } from './provision-user.js';
export type { UserCreation, UserLifecycle } from './user-lifecycle.js';
export { createUserLifecycle, userCreationSchema } from './user-lifecycle.js';
export type { UserLookup } from './user-lookup.js';
export { createUserLookup } from './user-lookup.js';
export type { UserRoles } from './user-roles.js';
export { createUserRoles, USER_ROLES, userRoleSchema } from './user-roles.js';
export type { Users, UserVerificationPatch } from './users.js';
export { createUsers, userPatchSchema } from './users.js';
export type { VerificationFlags } from './verification-flags.js';
export { ACCREDITATION_STATUSES, KYC_STATUSES, verificationFlags } from './verification-flags.js';
