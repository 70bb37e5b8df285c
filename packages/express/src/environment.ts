import type { AccessTokenAlgorithm, RialtoExchangeOptions } from '@rialto-exchange/core';

/**
 * Options a deployment can set through the environment instead of code, so keys and tokens come
 * from the platform's secret store rather than source:
 *
 * - `RIALTO_ISSUER`: the issuer URL
 * - `RIALTO_ADMIN_TOKEN`: the admin bearer token
 * - `RIALTO_ACCESS_TOKEN_KEY`: the access-token private key, as PKCS#8 PEM or a JWK in JSON
 * - `RIALTO_ACCESS_TOKEN_ALGORITHM`: its algorithm (`RS256`, `PS256`, `ES256`, `EdDSA`); inferred
 *   from the key when only one fits it
 * - `RIALTO_REFRESH_TOKEN_SECRET`: the refresh-token HMAC secret (at least 32 bytes)
 *
 * `RIALTO_STORE` (a store URL) is read by `rialtoExchange()` itself, which opens the store only
 * when none is passed. Options passed in code win over the environment; the values are validated
 * by the options schema like options passed in code.
 */
export function optionsFromEnvironment(env: NodeJS.ProcessEnv = process.env): Partial<RialtoExchangeOptions> {
  const options: Partial<RialtoExchangeOptions> = {};
  if (env.RIALTO_ISSUER) options.issuer = env.RIALTO_ISSUER;
  if (env.RIALTO_ADMIN_TOKEN) options.adminToken = env.RIALTO_ADMIN_TOKEN;
  if (env.RIALTO_ACCESS_TOKEN_ALGORITHM) {
    options.accessTokenAlgorithm = env.RIALTO_ACCESS_TOKEN_ALGORITHM.trim() as AccessTokenAlgorithm;
  }
  if (env.RIALTO_REFRESH_TOKEN_SECRET) options.refreshTokenSecret = env.RIALTO_REFRESH_TOKEN_SECRET;
  const key = env.RIALTO_ACCESS_TOKEN_KEY?.trim();
  if (key) options.accessTokenKey = key.startsWith('{') ? parseJwk(key) : key;
  return options;
}

function parseJwk(text: string): NonNullable<RialtoExchangeOptions['accessTokenKey']> {
  try {
    return JSON.parse(text);
  } catch {
    // Never echo the value: it is a private key.
    throw new TypeError('rialtoExchange: RIALTO_ACCESS_TOKEN_KEY starts with "{" but is not valid JSON');
  }
}
