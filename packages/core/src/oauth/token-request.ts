import { z } from 'zod';
import { RialtoError } from '../errors.js';
import type { FormParameters } from './form-body.js';
import { OAuthError } from './oauth-error.js';

/** RFC 8693 §2.1: exchange a partner IdP's ID token. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 7523 §2.1: the partner IdP's ID token as an authorization grant. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** RFC 6749 §6. */
export const REFRESH_TOKEN_GRANT = 'refresh_token';
/** The grants of the token endpoint, as its metadata lists them. */
export const GRANT_TYPES = [TOKEN_EXCHANGE_GRANT, JWT_BEARER_GRANT, REFRESH_TOKEN_GRANT] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/** RFC 8693 §3 token type identifiers. */
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** What a partner may send as `subject_token`: its IdP's ID token, named either way. */
export const SUBJECT_TOKEN_TYPES = [ID_TOKEN_TYPE, JWT_TOKEN_TYPE] as const;

// audience (RFC 8693 §2.1), resource (RFC 8707 §2) and scope (RFC 6749 §3.3) narrow the grant.
const targetFields = {
  audience: z.array(z.string()).optional(),
  resource: z.array(z.string()).optional(),
  scope: z.string().optional(),
};

/** Parameters of a token-exchange request (RFC 8693 §2.1), client authentication aside. */
export const tokenExchangeRequestSchema = z.object({
  grant_type: z.literal(TOKEN_EXCHANGE_GRANT),
  subject_token: z.string({ error: 'The subject_token parameter is required: the ID token to exchange.' }),
  subject_token_type: z.enum(SUBJECT_TOKEN_TYPES, {
    error: `The subject_token_type parameter must be ${SUBJECT_TOKEN_TYPES.join(' or ')}.`,
  }),
  requested_token_type: z
    .literal(ACCESS_TOKEN_TYPE, {
      error: `The requested_token_type parameter may only be ${ACCESS_TOKEN_TYPE}, or be left out.`,
    })
    .optional(),
  ...targetFields,
});

/** Parameters of a jwt-bearer request (RFC 7523 §2.1), client authentication aside. */
export const jwtBearerRequestSchema = z.object({
  grant_type: z.literal(JWT_BEARER_GRANT),
  assertion: z.string({ error: 'The assertion parameter is required: the ID token to exchange.' }),
  ...targetFields,
});

/** Parameters of a refresh request (RFC 6749 §6), client authentication aside. */
export const refreshTokenRequestSchema = z.object({
  grant_type: z.literal(REFRESH_TOKEN_GRANT),
  refresh_token: z.string({ error: 'The refresh_token parameter is required.' }),
  ...targetFields,
});

/** The body of `POST /oauth/token`, by grant type. */
export const tokenRequestSchema = z.discriminatedUnion('grant_type', [
  tokenExchangeRequestSchema,
  jwtBearerRequestSchema,
  refreshTokenRequestSchema,
]);

/** What a request asks to narrow its token to; each list empty and `scope` undefined when not asked. */
const REQUEST_SCHEMAS = {
  [TOKEN_EXCHANGE_GRANT]: tokenExchangeRequestSchema,
  [JWT_BEARER_GRANT]: jwtBearerRequestSchema,
  [REFRESH_TOKEN_GRANT]: refreshTokenRequestSchema,
} as const;

export interface TargetParameters {
  audience: readonly string[];
  resource: readonly string[];
  scope: string | undefined;
}

/** A validated token request, by grant. Unrecognized parameters are ignored (RFC 6749 §3.2). */
export type TokenRequest =
  | {
      grantType: typeof TOKEN_EXCHANGE_GRANT;
      subjectToken: string;
      subjectTokenType: (typeof SUBJECT_TOKEN_TYPES)[number];
      targets: TargetParameters;
    }
  | { grantType: typeof JWT_BEARER_GRANT; assertion: string; targets: TargetParameters }
  | { grantType: typeof REFRESH_TOKEN_GRANT; refreshToken: string; targets: TargetParameters };

/**
 * Validates the parameters of a token request. Client authentication parameters are read by
 * `readClientCredentials`, not here.
 * @throws RialtoError `invalid_request` for a missing or malformed parameter, an unsupported
 * `subject_token_type` or `requested_token_type`, or an `actor_token` (delegation is not supported);
 * OAuthError `unsupported_grant_type` for a grant the endpoint does not offer
 * @example
 * const request = parseTokenRequest(parseFormBody(req));
 * if (request.grantType === TOKEN_EXCHANGE_GRANT) request.subjectToken;
 */
export function parseTokenRequest(parameters: FormParameters): TokenRequest {
  const grantType = parameters.grant_type;
  if (grantType === undefined)
    throw new RialtoError('invalid_request', 'The grant_type parameter is required.');
  if (!(GRANT_TYPES as readonly unknown[]).includes(grantType)) {
    throw new OAuthError(
      'unsupported_grant_type',
      `The grant_type must be one of ${GRANT_TYPES.join(', ')}.`,
    );
  }
  if (
    grantType === TOKEN_EXCHANGE_GRANT &&
    (parameters.actor_token ?? parameters.actor_token_type) !== undefined
  ) {
    throw new RialtoError(
      'invalid_request',
      'Delegation is not supported: send the token exchange without actor_token and actor_token_type.',
    );
  }
  // The grant type is known: its own schema answers as the union would, without trying the others.
  const parsed = REQUEST_SCHEMAS[grantType as GrantType].safeParse(parameters);
  if (!parsed.success) {
    throw new RialtoError(
      'invalid_request',
      parsed.error.issues[0]?.message ?? 'The token request is malformed.',
    );
  }
  const body = parsed.data;
  const targets = { audience: body.audience ?? [], resource: body.resource ?? [], scope: body.scope };
  switch (body.grant_type) {
    case TOKEN_EXCHANGE_GRANT:
      return {
        grantType: body.grant_type,
        subjectToken: body.subject_token,
        subjectTokenType: body.subject_token_type,
        targets,
      };
    case JWT_BEARER_GRANT:
      return { grantType: body.grant_type, assertion: body.assertion, targets };
    case REFRESH_TOKEN_GRANT:
      return { grantType: body.grant_type, refreshToken: body.refresh_token, targets };
  }
}
