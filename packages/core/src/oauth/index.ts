/**
 * The building blocks of the standard OAuth surface: form bodies, client authentication, the one
 * mapping of exchange errors to OAuth errors, DPoP, metadata and token-request parameters. Pure
 * modules over plain data; the endpoints that wire them to the exchange live elsewhere.
 */
export {
  type AudienceNarrowing,
  type AudienceNarrowingOptions,
  createAudienceNarrowing,
  type NarrowedGrant,
} from './audience-narrowing.js';
export {
  authenticateClient,
  type ClientAuthMethod,
  type ClientCredentials,
  clientAuthMethodOf,
  readClientCredentials,
  requireClientCredentials,
} from './client-authentication.js';
export {
  accessTokenHash,
  createDpopProofVerifier,
  DPOP_PROOF_MAX_AGE_SECONDS,
  type DpopProofRequest,
  type DpopProofVerifier,
  type DpopProofVerifierOptions,
  type VerifiedDpopProof,
} from './dpop-proof.js';
export { OAUTH_ENDPOINT_PATHS, oauthEndpointUrl } from './endpoints.js';
export {
  ENDPOINT_ERRORS,
  EXCHANGE_ERROR_MAPPING,
  type OAuthEndpoint,
  type OAuthErrorContext,
  oauthErrorResponse,
  toOAuthError,
} from './error-mapping.js';
export {
  type FormBodyLimits,
  type FormParameters,
  parseFormBody,
  REPEATABLE_PARAMETERS,
} from './form-body.js';
export {
  AUTHORIZATION_SERVER_METADATA_SUFFIX,
  type AuthorizationServerMetadata,
  type AuthorizationServerMetadataOptions,
  authorizationServerMetadata,
  authorizationServerMetadataLocation,
  authorizationServerMetadataSchema,
} from './metadata.js';
export {
  OAUTH_ERROR_CODES,
  OAuthError,
  type OAuthErrorBody,
  type OAuthErrorCode,
  type OAuthErrorOptions,
  oauthErrorBody,
  oauthStatusOf,
} from './oauth-error.js';
export {
  type AccessTokenScheme,
  type AuthenticatedRequest,
  authenticateProtectedRequest,
  dpopChallenge,
  type PresentedAccessToken,
  type ProtectedRequest,
  type ProtectedRequestOptions,
  readPresentedAccessToken,
  type SenderConstraintClaims,
} from './protected-request.js';
export {
  ACCESS_TOKEN_TYPE,
  GRANT_TYPES,
  type GrantType,
  ID_TOKEN_TYPE,
  JWT_BEARER_GRANT,
  JWT_TOKEN_TYPE,
  jwtBearerRequestSchema,
  parseTokenRequest,
  REFRESH_TOKEN_GRANT,
  refreshTokenRequestSchema,
  SUBJECT_TOKEN_TYPES,
  type TargetParameters,
  TOKEN_EXCHANGE_GRANT,
  type TokenRequest,
  tokenExchangeRequestSchema,
  tokenRequestSchema,
} from './token-request.js';
