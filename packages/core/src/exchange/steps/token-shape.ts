import type { JWTPayload, ProtectedHeaderParameters } from 'jose';
import { RialtoError } from '../../errors.js';
import { defineStep } from '../exchange-step.js';
import type { UnverifiedIdToken } from '../id-token.js';

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Checks that a value is a compact JWS with a JSON-object header and payload, without trusting it.
 * @throws RialtoError `invalid_token`
 */
export function decodeIdToken(token: unknown, maxTokenBytes: number): UnverifiedIdToken {
  if (typeof token !== 'string' || token.length === 0) {
    throw new RialtoError('invalid_token', 'The request body must contain a "token" string.');
  }
  if (token.length > maxTokenBytes) {
    throw new RialtoError('invalid_token', `The token must not be longer than ${maxTokenBytes} bytes.`);
  }
  if (!JWS_COMPACT.test(token)) {
    throw new RialtoError('invalid_token', 'The token must be a JWT: three dot-separated base64url parts.');
  }
  // Each part decoded once, here, for both the canonical check and the JSON: jose's decoders
  // would decode the header and payload again, in a slower loop than Buffer's.
  const parts = token.split('.').map((segment) => {
    const bytes = Buffer.from(segment, 'base64url');
    // One signed token must have one spelling, or replay checks keyed on the string can be dodged.
    if (bytes.toString('base64url') !== segment) {
      throw new RialtoError('invalid_token', 'The token must use canonical base64url encoding.');
    }
    return bytes;
  });
  try {
    return {
      token,
      header: jsonObject(parts[0] as Buffer) as ProtectedHeaderParameters,
      payload: jsonObject(parts[1] as Buffer) as JWTPayload,
    };
  } catch (error) {
    throw new RialtoError(
      'invalid_token',
      'The token must be a JWT with a JSON header and JSON object payload.',
      { cause: error },
    );
  }
}

// As jose's decoders read a part: UTF-8 (malformed sequences replaced), a JSON object and nothing else.
function jsonObject(bytes: Buffer): Record<string, unknown> {
  const value: unknown = JSON.parse(bytes.toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('not a JSON object');
  }
  return value as Record<string, unknown>;
}

/** The header fields the debugger shows, wherever it shows them. */
export function headerSeen(idToken: UnverifiedIdToken | undefined): Record<string, unknown> {
  if (idToken === undefined) return {};
  const { alg, kid, typ } = idToken.header;
  return { alg, kid, typ };
}

/** The ID token as the way in received it, decoded: nothing about it is trusted yet. */
export const tokenShapeStep = defineStep({
  name: 'token_shape',
  errors: ['invalid_token'],
  run(ctx) {
    ctx.idToken = decodeIdToken(ctx.input.readIdToken(), ctx.deps.maxTokenBytes);
  },
  explain: {
    kind: 'check',
    seen: (ctx) => headerSeen(ctx.idToken),
    fixes: {
      invalid_token:
        'Send the ID token itself as the "token" string of a JSON body: three base64url parts joined by dots, without a "Bearer " prefix, quotes or whitespace, and not an opaque access token.',
    },
  },
});
