/**
 * Minting, verifying, refreshing and introspecting the service's own tokens.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export { createTokenIntrospection, typeOf } from './introspect-token.js';
export type { OAuthGrant, RialtoAccessTokenClaims, TokenMinter, TokenResponse } from './mint-tokens.js';
export { ACCESS_TOKEN_TYPE, createTokenMinter, scopeFor, scopeOf } from './mint-tokens.js';
export type { RefreshTokens } from './refresh-tokens.js';
export { createRefreshTokens } from './refresh-tokens.js';
export type { AccessTokenVerifier, VerifyAccessTokenOptions } from './verify-access-token.js';
export { createAccessTokenVerifier } from './verify-access-token.js';
