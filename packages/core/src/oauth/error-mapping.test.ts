import { describe, expect, it } from 'vitest';
import { ERROR_CODES, RialtoError, type RialtoErrorCode, StoreUnavailableError } from '../errors.js';
import {
  ENDPOINT_ERRORS,
  type OAuthEndpoint,
  type OAuthErrorContext,
  oauthErrorResponse as oauthError,
  toOAuthError,
} from './error-mapping.js';
import { OAuthError, type OAuthErrorCode } from './oauth-error.js';

// The exchange's default remoteFailureBackoffSeconds, which the OAuth endpoints pass.
const oauthErrorResponse = (
  error: unknown,
  context: Omit<OAuthErrorContext, 'remoteRetryAfterSeconds'> & Partial<OAuthErrorContext>,
) => oauthError(error, { remoteRetryAfterSeconds: 5, ...context });

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };
const HIDDEN = 'An unexpected error occurred.';

/**
 * Every exchange code as the token endpoint answers it: [code, status, error, rialto_error]. Written
 * out rather than read from the mapping, so a changed row fails here.
 */
const TOKEN_ENDPOINT_ROWS: Array<[RialtoErrorCode, number, OAuthErrorCode, RialtoErrorCode]> = [
  ['missing_api_key', 401, 'invalid_client', 'missing_api_key'],
  ['invalid_api_key', 401, 'invalid_client', 'invalid_api_key'],
  ['invalid_token', 400, 'invalid_grant', 'invalid_token'],
  ['invalid_signature', 400, 'invalid_grant', 'invalid_signature'],
  ['token_expired', 400, 'invalid_grant', 'token_expired'],
  ['invalid_issuer', 400, 'invalid_grant', 'invalid_issuer'],
  ['invalid_audience', 400, 'invalid_grant', 'invalid_audience'],
  ['discovery_failed', 503, 'temporarily_unavailable', 'discovery_failed'],
  ['issuer_not_registered', 400, 'invalid_grant', 'issuer_not_registered'],
  ['org_mismatch', 400, 'invalid_grant', 'org_mismatch'],
  ['account_conflict', 400, 'invalid_grant', 'account_conflict'],
  ['invalid_transition', 500, 'server_error', 'server_error'],
  ['invalid_request', 400, 'invalid_request', 'invalid_request'],
  ['invalid_grant', 400, 'invalid_grant', 'invalid_grant'],
  ['unauthorized', 401, 'invalid_client', 'unauthorized'],
  ['invalid_access_token', 400, 'invalid_grant', 'invalid_access_token'],
  ['invalid_dpop_proof', 400, 'invalid_dpop_proof', 'invalid_dpop_proof'],
  ['insufficient_claims', 500, 'server_error', 'server_error'],
  ['insufficient_role', 500, 'server_error', 'server_error'],
  ['organization_suspended', 400, 'unauthorized_client', 'organization_suspended'],
  ['user_not_provisioned', 400, 'invalid_grant', 'user_not_provisioned'],
  ['access_denied', 400, 'invalid_grant', 'access_denied'],
  ['not_found', 500, 'server_error', 'server_error'],
  ['method_not_allowed', 405, 'invalid_request', 'method_not_allowed'],
  ['conflict', 500, 'server_error', 'server_error'],
  ['request_too_large', 413, 'invalid_request', 'request_too_large'],
  ['unsupported_media_type', 400, 'invalid_request', 'unsupported_media_type'],
  ['rate_limited', 429, 'temporarily_unavailable', 'rate_limited'],
  ['server_error', 500, 'server_error', 'server_error'],
  ['temporarily_unavailable', 503, 'temporarily_unavailable', 'temporarily_unavailable'],
];

describe('the mapping of exchange errors to OAuth errors', () => {
  it('has a tested row for every exchange error code', () => {
    expect(TOKEN_ENDPOINT_ROWS.map(([code]) => code).sort()).toEqual([...ERROR_CODES].sort());
  });

  it.each(TOKEN_ENDPOINT_ROWS)(
    '%s answers %i %s with rialto_error %s at the token endpoint',
    (code, status, error, rialtoError) => {
      const response = oauthErrorResponse(new RialtoError(code, 'What happened, for the client.'), {
        endpoint: 'token',
      });
      expect(response.status).toBe(status);
      expect(response.body).toEqual({
        error,
        error_description: error === 'server_error' ? HIDDEN : 'What happened, for the client.',
        rialto_error: rialtoError,
      });
      expect(response.headers).toMatchObject(NO_STORE);
      if (error === 'temporarily_unavailable') expect(response.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(response.headers['www-authenticate']).toBeUndefined();
    },
  );

  it('keeps the Retry-After a rate limit computed', () => {
    const limited = new RialtoError(
      'rate_limited',
      'Too many requests from this client address. Retry in 7 s.',
      {
        headers: { 'retry-after': '7' },
      },
    );
    expect(oauthErrorResponse(limited, { endpoint: 'token' })).toEqual({
      status: 429,
      headers: { ...NO_STORE, 'retry-after': '7' },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'Too many requests from this client address. Retry in 7 s.',
        rialto_error: 'rate_limited',
      },
    });
  });

  it('answers an unreachable IdP with Retry-After from the remote failure backoff', () => {
    const failed = new RialtoError('discovery_failed');
    expect(oauthErrorResponse(failed, { endpoint: 'token' }).headers['retry-after']).toBe('5');
    expect(
      oauthErrorResponse(failed, { endpoint: 'token', remoteRetryAfterSeconds: 12.5 }).headers['retry-after'],
    ).toBe('13');
    expect(
      oauthErrorResponse(failed, { endpoint: 'token', remoteRetryAfterSeconds: 0 }).headers['retry-after'],
    ).toBe('1');
  });

  it('answers a store outage with 503 temporarily_unavailable and Retry-After, revealing nothing of it', () => {
    const outage = new StoreUnavailableError('connect ECONNREFUSED 10.0.0.5:6379');
    expect(oauthErrorResponse(outage, { endpoint: 'token' })).toEqual({
      status: 503,
      headers: { ...NO_STORE, 'retry-after': '1' },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'The service is temporarily unavailable. Retry later.',
        rialto_error: 'temporarily_unavailable',
      },
    });
  });

  it('answers anything unexpected with 500 server_error and a generic description', () => {
    const response = oauthErrorResponse(new TypeError('Cannot read properties of undefined (secret)'), {
      endpoint: 'introspection',
    });
    expect(response).toEqual({
      status: 500,
      headers: NO_STORE,
      body: { error: 'server_error', error_description: HIDDEN, rialto_error: 'server_error' },
    });
    expect(
      toOAuthError(new TypeError('x'), { endpoint: 'token', remoteRetryAfterSeconds: 5 }).cause,
    ).toBeInstanceOf(TypeError);
  });

  it('keeps the headers an exchange error carries (Allow, Connection: close)', () => {
    const tooLarge = new RialtoError('request_too_large', 'The request body must not exceed 10 bytes.', {
      headers: { connection: 'close' },
    });
    expect(oauthErrorResponse(tooLarge, { endpoint: 'token' }).headers).toEqual({
      ...NO_STORE,
      connection: 'close',
    });
    const wrongMethod = new RialtoError('method_not_allowed', undefined, { headers: { allow: 'POST' } });
    expect(oauthErrorResponse(wrongMethod, { endpoint: 'revocation' })).toMatchObject({
      status: 405,
      headers: { allow: 'POST' },
      body: { error: 'invalid_request', rialto_error: 'method_not_allowed' },
    });
  });

  it('passes OAuth errors through, with rialto_error only when they name one', () => {
    const response = oauthErrorResponse(
      new OAuthError('invalid_target', 'The audience "billing" is not granted.'),
      {
        endpoint: 'token',
      },
    );
    expect(response).toEqual({
      status: 400,
      headers: NO_STORE,
      body: { error: 'invalid_target', error_description: 'The audience "billing" is not granted.' },
    });
  });

  it('never exposes the description of a server_error, whoever wrote it', () => {
    for (const error of [
      new OAuthError('server_error', 'pool exhausted on db-3'),
      new RialtoError('server_error', 'pool exhausted on db-3'),
    ]) {
      expect(oauthErrorResponse(error, { endpoint: 'token' }).body).toMatchObject({
        error: 'server_error',
        error_description: HIDDEN,
      });
    }
  });
});

describe('the errors of each endpoint', () => {
  it('lists what each endpoint may answer', () => {
    expect(ENDPOINT_ERRORS).toEqual({
      token: [
        'invalid_request',
        'invalid_client',
        'invalid_grant',
        'unauthorized_client',
        'unsupported_grant_type',
        'invalid_scope',
        'invalid_target',
        'invalid_dpop_proof',
        'temporarily_unavailable',
        'server_error',
      ],
      revocation: [
        'invalid_request',
        'invalid_client',
        'unauthorized_client',
        'unsupported_token_type',
        'temporarily_unavailable',
        'server_error',
      ],
      introspection: [
        'invalid_request',
        'invalid_client',
        'unauthorized_client',
        'temporarily_unavailable',
        'server_error',
      ],
    });
  });

  it.each<[OAuthEndpoint, OAuthErrorCode, number]>([
    ['revocation', 'unsupported_token_type', 400],
    ['revocation', 'invalid_client', 401],
    ['revocation', 'unauthorized_client', 400],
    ['introspection', 'invalid_request', 400],
    ['introspection', 'invalid_client', 401],
  ])('%s answers %s with %i', (endpoint, code, status) => {
    const response = oauthErrorResponse(new OAuthError(code, 'Why.'), { endpoint });
    expect(response.status).toBe(status);
    expect(response.body).toEqual({ error: code, error_description: 'Why.' });
  });

  it.each<[OAuthEndpoint, Error]>([
    ['revocation', new RialtoError('invalid_grant')],
    ['introspection', new RialtoError('token_expired')],
    ['introspection', new OAuthError('invalid_target')],
    ['token', new OAuthError('unsupported_token_type')],
    ['token', new OAuthError('invalid_token')],
  ])('%s answers an error it does not list (%s) as server_error', (endpoint, error) => {
    expect(oauthErrorResponse(error, { endpoint })).toEqual({
      status: 500,
      headers: NO_STORE,
      body: { error: 'server_error', error_description: HIDDEN, rialto_error: 'server_error' },
    });
  });
});

describe('the challenge of a failed client authentication', () => {
  it('is WWW-Authenticate: Basic when the client used HTTP Basic (RFC 6749 §5.2)', () => {
    for (const endpoint of ['token', 'revocation', 'introspection'] as const) {
      const response = oauthErrorResponse(new RialtoError('invalid_api_key'), {
        endpoint,
        clientAuthMethod: 'client_secret_basic',
      });
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe(
        'Basic realm="rialto", error="invalid_client", error_description="The API key is not valid for any organization."',
      );
    }
  });

  it('escapes quotes and backslashes in the challenge', () => {
    const response = oauthErrorResponse(new RialtoError('invalid_api_key', 'A "quoted" \\ word.'), {
      endpoint: 'token',
      clientAuthMethod: 'client_secret_basic',
    });
    expect(response.headers['www-authenticate']).toBe(
      'Basic realm="rialto", error="invalid_client", error_description="A \\"quoted\\" \\\\ word."',
    );
  });

  it('is absent for the other methods and for errors other than invalid_client', () => {
    for (const clientAuthMethod of ['client_secret_post', 'api_key_header', undefined] as const) {
      const response = oauthErrorResponse(new RialtoError('invalid_api_key'), {
        endpoint: 'token',
        clientAuthMethod,
      });
      expect(response.headers['www-authenticate']).toBeUndefined();
    }
    const grant = oauthErrorResponse(new RialtoError('token_expired'), {
      endpoint: 'token',
      clientAuthMethod: 'client_secret_basic',
    });
    expect(grant.headers['www-authenticate']).toBeUndefined();
  });
});
