import { createHash, randomUUID } from 'node:crypto';
import type { Store } from '@rialto-exchange/core';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { expect } from 'vitest';
import type { TestAnswer } from './helpers.js';

/** Fixtures of the OAuth endpoints' tests. */

/** `client_secret_basic` as RFC 6749 §2.3.1 builds it: each part form-urlencoded, then base64. */
export function basic(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/** Asserts an OAuth error answer: status, exact body members, no caching. */
export function expectOAuthError(
  response: TestAnswer,
  status: number,
  error: string,
  rialtoError?: string,
): void {
  expect({ status: response.status, body: response.body }).toEqual({
    status,
    body: {
      error,
      error_description: expect.any(String),
      ...(rialtoError === undefined ? {} : { rialto_error: rialtoError }),
    },
  });
  expect(response.headers['cache-control']).toBe('no-store');
}

/**
 * Re-signs an access token of the service with a `cnf.jkt` claim, with the service's own stored
 * access-token key: a DPoP-bound token as the token endpoint mints it, without depending on it.
 */
export function bindAccessToken(
  store: Pick<Store, 'listSigningKeys'>,
  accessToken: string,
  jkt: string,
): Promise<string> {
  return resignAccessToken(store, accessToken, { cnf: { jkt } });
}

/** Signs an access token's claims with `overrides` applied, with the service's own access-token key. */
export async function resignAccessToken(
  store: Pick<Store, 'listSigningKeys'>,
  accessToken: string,
  overrides: Record<string, unknown>,
): Promise<string> {
  const [key] = await store.listSigningKeys('access_token');
  if (key === undefined) throw new Error('the service has no access-token key yet');
  const claims = { ...decodeJwt(accessToken), ...overrides };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .sign(await importJWK(key.privateJwk, key.alg));
}

export interface DpopKey {
  jkt: string;
  /** A fresh proof for one request (RFC 9449 §4.2). */
  proof(
    method: string,
    url: string,
    accessToken?: string,
    overrides?: Record<string, unknown>,
  ): Promise<string>;
}

/** A client's DPoP key pair and its proofs. */
export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return {
    jkt: await calculateJwkThumbprint(jwk),
    proof(method, url, accessToken, overrides = {}) {
      return new SignJWT({
        jti: randomUUID(),
        htm: method,
        htu: url,
        iat: Math.floor(Date.now() / 1000),
        ...(accessToken === undefined
          ? {}
          : { ath: createHash('sha256').update(accessToken).digest('base64url') }),
        ...overrides,
      })
        .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
        .sign(privateKey);
    },
  };
}
