export { generateApiKey, hashApiKey, parseApiKey } from './api-keys.js';
export type { ErrorBody, RialtoErrorCode, RialtoErrorOptions } from './errors.js';
export { errorBody, RialtoError, StoreUnavailableError, toRialtoError } from './errors.js';
export type { RialtoExchange } from './handler.js';
export { createRialtoExchange } from './handler.js';
export type { RequestLike, ResponseLike } from './http-types.js';
export type { Logger } from './logger.js';
export type { RialtoAccessTokenClaims, TokenResponse } from './mint-tokens.js';
export type { ResolvedRialtoExchangeOptions, RialtoExchangeOptions } from './options.js';
export { DEFAULT_MAX_BODY_BYTES, resolveOptions } from './options.js';
export type { OrganizationRegistration, RegisteredOrganization } from './organizations.js';
export { normalizeIssuer, REQUIRED_AUDIENCE } from './organizations.js';
export { normalizeEmail } from './provision-user.js';
export type { AccessTokenAlgorithm } from './signing-keys.js';
export type {
  ApiKeyRecord,
  EmailLinkingPolicy,
  FindOrCreateUserInput,
  FindOrCreateUserResult,
  OrganizationPatch,
  OrganizationRecord,
  RefreshTokenRecord,
  SigningKeyRecord,
  SigningKeyUse,
  Store,
  UserRecord,
} from './store.js';
export type { VerifyAccessTokenOptions } from './verify-access-token.js';
export { ASYMMETRIC_ALGORITHMS } from './verify-id-token.js';
