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
