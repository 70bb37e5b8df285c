import { createHmac, type KeyObject } from 'node:crypto';

/**
 * Signs a JWT with HS256 in the calling thread. The refresh token is the only HMAC-signed token,
 * and HMAC-SHA-256 over a few hundred bytes takes a couple of microseconds: handing it to the
 * libuv pool as WebCrypto does (and jose with it) costs ten times that in the job's setup, the
 * thread hop and the promise. Verification stays with jose, which parses what others send.
 */
export function signHs256Jwt(
  header: { kid: string; typ: string },
  payload: object,
  secret: KeyObject,
): string {
  const signingInput = `${base64urlJson({ alg: 'HS256', ...header })}.${base64urlJson(payload)}`;
  const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

function base64urlJson(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
