import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import type { FormParameters } from './form-body.js';
import { OAuthError } from './oauth-error.js';
import {
  ACCESS_TOKEN_TYPE,
  ID_TOKEN_TYPE,
  JWT_BEARER_GRANT,
  JWT_TOKEN_TYPE,
  parseTokenRequest,
  TOKEN_EXCHANGE_GRANT,
} from './token-request.js';

const NO_TARGETS = { audience: [], resource: [], scope: undefined };
const exchange = {
  grant_type: TOKEN_EXCHANGE_GRANT,
  subject_token: 'id.token.jwt',
  subject_token_type: ID_TOKEN_TYPE,
};

function refusal(parameters: FormParameters): { type: string; code: string; description: string } {
  try {
    parseTokenRequest(parameters);
  } catch (error) {
    if (error instanceof RialtoError || error instanceof OAuthError) {
      return { type: error.name, code: error.code, description: error.description };
    }
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseTokenRequest', () => {
  it('reads a token exchange with either subject token type (RFC 8693 §2.1)', () => {
    for (const subjectTokenType of [ID_TOKEN_TYPE, JWT_TOKEN_TYPE]) {
      expect(parseTokenRequest({ ...exchange, subject_token_type: subjectTokenType })).toEqual({
        grantType: TOKEN_EXCHANGE_GRANT,
        subjectToken: 'id.token.jwt',
        subjectTokenType,
        targets: NO_TARGETS,
      });
    }
  });

  it('accepts requested_token_type access_token, and ignores unrecognized parameters (RFC 6749 §3.2)', () => {
    const request = parseTokenRequest({
      ...exchange,
      requested_token_type: ACCESS_TOKEN_TYPE,
      client_id: 'org',
      client_secret: 'key',
      extension: 'x',
    });
    expect(request).toEqual({
      grantType: TOKEN_EXCHANGE_GRANT,
      subjectToken: 'id.token.jwt',
      subjectTokenType: ID_TOKEN_TYPE,
      targets: NO_TARGETS,
    });
  });

  it('reads audience, resource and scope as the targets to narrow to', () => {
    const request = parseTokenRequest({
      ...exchange,
      audience: ['identity', 'primary-issuance'],
      resource: ['https://issuance.example.com/'],
      scope: 'aud:identity',
    });
    expect(request.targets).toEqual({
      audience: ['identity', 'primary-issuance'],
      resource: ['https://issuance.example.com/'],
      scope: 'aud:identity',
    });
  });

  it('reads a jwt-bearer request (RFC 7523 §2.1)', () => {
    expect(
      parseTokenRequest({ grant_type: JWT_BEARER_GRANT, assertion: 'id.token.jwt', audience: ['identity'] }),
    ).toEqual({
      grantType: JWT_BEARER_GRANT,
      assertion: 'id.token.jwt',
      targets: { ...NO_TARGETS, audience: ['identity'] },
    });
  });

  it('reads a refresh request (RFC 6749 §6)', () => {
    expect(
      parseTokenRequest({ grant_type: 'refresh_token', refresh_token: 'r.t.s', scope: 'aud:identity' }),
    ).toEqual({
      grantType: 'refresh_token',
      refreshToken: 'r.t.s',
      targets: { ...NO_TARGETS, scope: 'aud:identity' },
    });
  });

  it('refuses a request without grant_type with invalid_request', () => {
    expect(refusal({ subject_token: 'x' })).toEqual({
      type: 'RialtoError',
      code: 'invalid_request',
      description: 'The grant_type parameter is required.',
    });
  });

  it.each([
    'authorization_code',
    'client_credentials',
    'password',
    'urn:ietf:params:oauth:grant-type:device_code',
  ])('refuses grant_type %s with unsupported_grant_type listing the supported ones', (grantType) => {
    expect(refusal({ grant_type: grantType })).toEqual({
      type: 'OAuthError',
      code: 'unsupported_grant_type',
      description:
        'The grant_type must be one of urn:ietf:params:oauth:grant-type:token-exchange, urn:ietf:params:oauth:grant-type:jwt-bearer, refresh_token.',
    });
  });

  it.each<[string, FormParameters, string]>([
    [
      'a token exchange without subject_token',
      { grant_type: TOKEN_EXCHANGE_GRANT, subject_token_type: ID_TOKEN_TYPE },
      'The subject_token parameter is required: the ID token to exchange.',
    ],
    [
      'a token exchange without subject_token_type',
      { grant_type: TOKEN_EXCHANGE_GRANT, subject_token: 'x' },
      'The subject_token_type parameter must be urn:ietf:params:oauth:token-type:id_token or urn:ietf:params:oauth:token-type:jwt.',
    ],
    [
      'an access token as subject_token_type',
      { ...exchange, subject_token_type: ACCESS_TOKEN_TYPE },
      'The subject_token_type parameter must be urn:ietf:params:oauth:token-type:id_token or urn:ietf:params:oauth:token-type:jwt.',
    ],
    [
      'a SAML assertion as subject_token_type',
      { ...exchange, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' },
      'The subject_token_type parameter must be urn:ietf:params:oauth:token-type:id_token or urn:ietf:params:oauth:token-type:jwt.',
    ],
    [
      'a refresh token as requested_token_type',
      { ...exchange, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
      'The requested_token_type parameter may only be urn:ietf:params:oauth:token-type:access_token, or be left out.',
    ],
    [
      'an actor_token (delegation)',
      { ...exchange, actor_token: 'actor.jwt', actor_token_type: JWT_TOKEN_TYPE },
      'Delegation is not supported: send the token exchange without actor_token and actor_token_type.',
    ],
    [
      'an actor_token_type alone',
      { ...exchange, actor_token_type: JWT_TOKEN_TYPE },
      'Delegation is not supported: send the token exchange without actor_token and actor_token_type.',
    ],
    [
      'a jwt-bearer request without assertion',
      { grant_type: JWT_BEARER_GRANT, subject_token: 'x' },
      'The assertion parameter is required: the ID token to exchange.',
    ],
    [
      'a refresh request without refresh_token',
      { grant_type: 'refresh_token' },
      'The refresh_token parameter is required.',
    ],
  ])('refuses %s with invalid_request', (_, parameters, description) => {
    expect(refusal(parameters)).toEqual({ type: 'RialtoError', code: 'invalid_request', description });
  });

  it('ignores actor_token on grants other than token exchange, where it means nothing', () => {
    expect(
      parseTokenRequest({ grant_type: JWT_BEARER_GRANT, assertion: 'a', actor_token: 'x' }).grantType,
    ).toBe(JWT_BEARER_GRANT);
  });
});
