import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import type { RequestLike, ResponseLike } from '../http/http-types.js';
import { readClientCredentials } from './client-authentication.js';
import {
  createDpopProofVerifier as createVerifier,
  type DpopProofVerifier,
  type DpopProofVerifierOptions,
} from './dpop-proof.js';
import { oauthEndpointUrl } from './endpoints.js';
import { type OAuthErrorContext, oauthErrorResponse as oauthError } from './error-mapping.js';
import { type FormBodyLimits, parseFormBody as parseForm } from './form-body.js';
import { authorizationServerMetadata } from './metadata.js';
import { OAuthError } from './oauth-error.js';
import { ID_TOKEN_TYPE, parseTokenRequest, TOKEN_EXCHANGE_GRANT } from './token-request.js';

// The exchange's default maxBodyBytes, which the token endpoint passes.
const parseFormBody = (request: Parameters<typeof parseForm>[0], limits: Partial<FormBodyLimits> = {}) =>
  parseForm(request, { maxBytes: 65_536, ...limits });

// The exchange's default remoteFailureBackoffSeconds, which the OAuth endpoints pass.
const oauthErrorResponse = (
  error: unknown,
  context: Omit<OAuthErrorContext, 'remoteRetryAfterSeconds'> & Partial<OAuthErrorContext>,
) => oauthError(error, { remoteRetryAfterSeconds: 5, ...context });

// The exchange's default clockToleranceSeconds, which its endpoints pass.
const createDpopProofVerifier = (
  options: Omit<DpopProofVerifierOptions, 'clockToleranceSeconds'> & Partial<DpopProofVerifierOptions>,
) => createVerifier({ clockToleranceSeconds: 30, ...options });

/**
 * The requests openid-client 6 and oauth4webapi 3 send, captured at their fetch and read by the
 * pure modules; and the answers those modules write, parsed by the clients. No server is involved:
 * the endpoints wiring these modules are tested end to end elsewhere.
 */

const ISSUER = 'https://api.example.com/auth';
const TOKEN_ENDPOINT = oauthEndpointUrl(ISSUER, 'token');
// Both names of Ed25519 signatures: oauth4webapi and openid-client sign with the fully specified "Ed25519".
const metadata = authorizationServerMetadata({
  issuer: ISSUER,
  dpopSigningAlgorithms: ['ES256', 'EdDSA', 'Ed25519', 'PS256'],
});
const as: oauth.AuthorizationServer = metadata;
const API_KEY = 'rialto_ak_0b9d2c7e-4f1a-4c55-9d1e-6a7b8c9d0e1f_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0aGV3b3Jk';
const ID_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.c2ln';

function asFetchResponse(response: ResponseLike): Response {
  return new Response(JSON.stringify(response.body), {
    status: response.status,
    headers: { ...response.headers, 'content-type': 'application/json' },
  });
}

/**
 * Runs a client call against a fetch that records the request and answers `answer` (by default a
 * refusal, since only the request matters). Resolves with the request and what the call settled to.
 */
async function exchangeWith(
  call: (fetch: typeof globalThis.fetch) => Promise<unknown>,
  answer: ResponseLike = oauthErrorResponse(new RialtoError('invalid_grant'), { endpoint: 'token' }),
): Promise<{ request: RequestLike & { url: string }; outcome: unknown }> {
  let request: (RequestLike & { url: string }) | undefined;
  const outcome = await call(async (url, init) => {
    request = {
      url: String(url),
      method: init?.method ?? 'GET',
      path: new URL(String(url)).pathname,
      headers: init?.headers as Record<string, string>,
      body: init?.body === undefined ? undefined : String(init.body),
    };
    return asFetchResponse(answer);
  }).then(
    (value) => value,
    (error: unknown) => error,
  );
  if (!request) throw new Error('the client sent nothing');
  return { request, outcome };
}

function openidClient(
  clientId: string,
  auth: client.ClientAuth,
  fetch: typeof globalThis.fetch,
): client.Configuration {
  const config = new client.Configuration(metadata, clientId, undefined, auth);
  config[client.customFetch] = fetch;
  return config;
}

const ODD_CREDENTIALS: Array<[string, string]> = [
  ['0b9d2c7e-4f1a-4c55-9d1e-6a7b8c9d0e1f', API_KEY],
  ['org:with:colons', 'se:cr:et'],
  ['plus+and space', 'a+b c'],
  ['100%', '%41%'],
  ['ÉTÉ-ü€-日本', 'pässwörd-€-🔑'],
  ["-_.!~*'()", "-_.!~*'()"],
];

describe('client authentication by standard clients', () => {
  it.each(ODD_CREDENTIALS)('decodes oauth4webapi client_secret_basic for %j', async (clientId, secret) => {
    const { request } = await exchangeWith((fetch) =>
      oauth.genericTokenEndpointRequest(
        as,
        { client_id: clientId },
        oauth.ClientSecretBasic(secret),
        'refresh_token',
        {
          refresh_token: 'r',
        },
        { [oauth.customFetch]: fetch },
      ),
    );
    expect(readClientCredentials(request.headers, parseFormBody(request))).toEqual({
      method: 'client_secret_basic',
      clientId,
      secret,
    });
  });

  it.each(ODD_CREDENTIALS)('decodes openid-client client_secret_basic for %j', async (clientId, secret) => {
    const { request } = await exchangeWith((fetch) =>
      client.refreshTokenGrant(openidClient(clientId, client.ClientSecretBasic(secret), fetch), 'r'),
    );
    expect(readClientCredentials(request.headers, parseFormBody(request))).toEqual({
      method: 'client_secret_basic',
      clientId,
      secret,
    });
  });

  it.each(ODD_CREDENTIALS)(
    'reads oauth4webapi and openid-client client_secret_post for %j',
    async (clientId, secret) => {
      const sent = [
        await exchangeWith((fetch) =>
          oauth.genericTokenEndpointRequest(
            as,
            { client_id: clientId },
            oauth.ClientSecretPost(secret),
            'refresh_token',
            {
              refresh_token: 'r',
            },
            { [oauth.customFetch]: fetch },
          ),
        ),
        await exchangeWith((fetch) =>
          client.refreshTokenGrant(openidClient(clientId, client.ClientSecretPost(secret), fetch), 'r'),
        ),
      ];
      for (const { request } of sent) {
        expect(readClientCredentials(request.headers, parseFormBody(request))).toEqual({
          method: 'client_secret_post',
          clientId,
          secret,
        });
      }
    },
  );
});

describe('token requests by standard clients', () => {
  it("reads openid-client's token exchange with repeated audiences", async () => {
    const { request } = await exchangeWith((fetch) =>
      client.genericGrantRequest(
        openidClient('org', client.ClientSecretBasic(API_KEY), fetch),
        TOKEN_EXCHANGE_GRANT,
        new URLSearchParams([
          ['subject_token', ID_TOKEN],
          ['subject_token_type', ID_TOKEN_TYPE],
          ['audience', 'identity'],
          ['audience', 'primary-issuance'],
          ['scope', 'openid aud:primary-issuance'],
        ]),
      ),
    );
    expect(request.url).toBe(TOKEN_ENDPOINT);
    expect(parseTokenRequest(parseFormBody(request))).toEqual({
      grantType: TOKEN_EXCHANGE_GRANT,
      subjectToken: ID_TOKEN,
      subjectTokenType: ID_TOKEN_TYPE,
      targets: {
        audience: ['identity', 'primary-issuance'],
        resource: [],
        scope: 'openid aud:primary-issuance',
      },
    });
  });

  it("reads oauth4webapi's jwt-bearer and refresh requests", async () => {
    const jwtBearer = await exchangeWith((fetch) =>
      oauth.genericTokenEndpointRequest(
        as,
        { client_id: 'org' },
        oauth.ClientSecretPost(API_KEY),
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        { assertion: ID_TOKEN, resource: 'https://issuance.example.com/' },
        { [oauth.customFetch]: fetch },
      ),
    );
    expect(parseTokenRequest(parseFormBody(jwtBearer.request))).toMatchObject({
      assertion: ID_TOKEN,
      targets: { resource: ['https://issuance.example.com/'] },
    });
    const refresh = await exchangeWith((fetch) =>
      oauth.refreshTokenGrantRequest(as, { client_id: 'org' }, oauth.ClientSecretBasic(API_KEY), 'r.t.s', {
        [oauth.customFetch]: fetch,
      }),
    );
    expect(parseTokenRequest(parseFormBody(refresh.request))).toMatchObject({ refreshToken: 'r.t.s' });
  });
});

describe('revocation and introspection requests by standard clients', () => {
  it("reads openid-client's tokenRevocation and tokenIntrospection at the metadata's endpoints", async () => {
    const revocation = await exchangeWith((fetch) =>
      client.tokenRevocation(openidClient('org', client.ClientSecretBasic(API_KEY), fetch), 'r.t.s', {
        token_type_hint: 'refresh_token',
      }),
    );
    expect(revocation.request.url).toBe(oauthEndpointUrl(ISSUER, 'revocation'));
    const introspection = await exchangeWith((fetch) =>
      client.tokenIntrospection(openidClient('org', client.ClientSecretPost(API_KEY), fetch), 'a.t.s'),
    );
    expect(introspection.request.url).toBe(oauthEndpointUrl(ISSUER, 'introspection'));

    for (const [{ request }, method, token] of [
      [revocation, 'client_secret_basic', 'r.t.s'],
      [introspection, 'client_secret_post', 'a.t.s'],
    ] as const) {
      const parameters = parseFormBody(request);
      expect(parameters.token).toBe(token);
      expect(readClientCredentials(request.headers, parameters)).toEqual({
        method,
        clientId: 'org',
        secret: API_KEY,
      });
    }
    expect(parseFormBody(revocation.request).token_type_hint).toBe('refresh_token');
  });
});

describe('DPoP proofs of standard clients at the token endpoint', () => {
  let verifier: DpopProofVerifier;
  let keyPair: oauth.CryptoKeyPair;

  beforeEach(async () => {
    const used = new Set<string>();
    verifier = createDpopProofVerifier({
      algorithms: metadata.dpop_signing_alg_values_supported,
      consumeOnce: async (key) => !used.has(key) && Boolean(used.add(key)),
    });
    keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
  });

  async function oauth4webapiProof(pair: oauth.CryptoKeyPair = keyPair) {
    const handle = oauth.DPoP({}, pair);
    const { request } = await exchangeWith((fetch) =>
      oauth.refreshTokenGrantRequest(as, { client_id: 'org' }, oauth.ClientSecretBasic(API_KEY), 'r', {
        DPoP: handle,
        [oauth.customFetch]: fetch,
      }),
    );
    return { request, jkt: await handle.calculateThumbprint() };
  }

  async function refusal(promise: Promise<unknown>): Promise<string> {
    const error = await promise.then(
      () => {
        throw new Error('expected a refusal');
      },
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).code).toBe('invalid_dpop_proof');
    return (error as OAuthError).description;
  }

  it("verifies oauth4webapi's DPoP() proofs and answers the key's thumbprint", async () => {
    const { request, jkt } = await oauth4webapiProof();
    expect(
      (await verifier.verify(request.headers.dpop, { method: request.method, url: TOKEN_ENDPOINT })).jkt,
    ).toBe(jkt);
  });

  it.each(['ES256', 'Ed25519', 'PS256'])(
    "verifies openid-client's getDPoPHandle proofs signed with %s",
    async (alg) => {
      const pair = await client.randomDPoPKeyPair(alg);
      let handle: client.DPoPHandle | undefined;
      const { request } = await exchangeWith((fetch) => {
        const config = openidClient('org', client.ClientSecretBasic(API_KEY), fetch);
        handle = client.getDPoPHandle(config, pair);
        return client.genericGrantRequest(
          config,
          TOKEN_EXCHANGE_GRANT,
          {
            subject_token: ID_TOKEN,
            subject_token_type: ID_TOKEN_TYPE,
          },
          { DPoP: handle },
        );
      });
      const verified = await verifier.verify(request.headers.dpop, { method: 'POST', url: TOKEN_ENDPOINT });
      expect(verified.jkt).toBe(await handle?.calculateThumbprint());
    },
  );

  it('refuses a replayed proof, and a tampered one', async () => {
    const { request } = await oauth4webapiProof();
    const check = { method: 'POST', url: TOKEN_ENDPOINT };
    await verifier.verify(request.headers.dpop, check);
    expect(await refusal(verifier.verify(request.headers.dpop, check))).toBe(
      'The DPoP proof was already used; make a new proof for each request.',
    );

    const fresh = (await oauth4webapiProof()).request.headers.dpop as string;
    const [header, payload, signature] = fresh.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(
      JSON.stringify({ ...claims, htu: 'https://evil.example/oauth/token' }),
    ).toString('base64url');
    expect(await refusal(verifier.verify(`${header}.${forged}.${signature}`, check))).toBe(
      "The DPoP proof's signature does not verify with its jwk.",
    );
  });

  it('refuses a proof a client made for another endpoint', async () => {
    const { request } = await oauth4webapiProof();
    const revocation = { method: 'POST', url: oauthEndpointUrl(ISSUER, 'revocation') };
    expect(await refusal(verifier.verify(request.headers.dpop, revocation))).toBe(
      "The DPoP proof's htu is not the URL of this endpoint.",
    );
  });
});

describe('error answers parsed by standard clients', () => {
  async function openidClientError(answer: ResponseLike): Promise<unknown> {
    const { outcome } = await exchangeWith(
      (fetch) =>
        client.genericGrantRequest(
          openidClient('org', client.ClientSecretPost(API_KEY), fetch),
          TOKEN_EXCHANGE_GRANT,
          {
            subject_token: ID_TOKEN,
            subject_token_type: ID_TOKEN_TYPE,
          },
        ),
      answer,
    );
    return outcome;
  }

  it.each<[string, Error, number, object]>([
    [
      'an expired subject token',
      new RialtoError('token_expired'),
      400,
      { error: 'invalid_grant', error_description: 'The token has expired.', rialto_error: 'token_expired' },
    ],
    [
      'an audience outside the grant',
      new OAuthError('invalid_target', 'The audience "billing" is not granted.'),
      400,
      { error: 'invalid_target', error_description: 'The audience "billing" is not granted.' },
    ],
    [
      'a rate limit',
      new RialtoError('rate_limited', 'Too many requests.', { headers: { 'retry-after': '3' } }),
      429,
      {
        error: 'temporarily_unavailable',
        error_description: 'Too many requests.',
        rialto_error: 'rate_limited',
      },
    ],
    [
      'a wrong client_secret sent in the body',
      new RialtoError('invalid_api_key'),
      401,
      {
        error: 'invalid_client',
        error_description: 'The API key is not valid for any organization.',
        rialto_error: 'invalid_api_key',
      },
    ],
  ])(
    'openid-client reports %s as ResponseBodyError with error, error_description and rialto_error',
    async (_, error, status, body) => {
      const outcome = await openidClientError(oauthErrorResponse(error, { endpoint: 'token' }));
      expect(outcome).toBeInstanceOf(client.ResponseBodyError);
      const responseError = outcome as client.ResponseBodyError;
      expect(responseError.status).toBe(status);
      expect(responseError.error).toBe((body as { error: string }).error);
      expect(responseError.error_description).toBe((body as { error_description: string }).error_description);
      expect(responseError.cause).toEqual(body);
    },
  );

  it('oauth4webapi reports an error body as ResponseBodyError too', async () => {
    const response = asFetchResponse(
      oauthErrorResponse(new RialtoError('org_mismatch'), { endpoint: 'token' }),
    );
    const outcome = await oauth.processGenericTokenEndpointResponse(as, { client_id: 'org' }, response).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(oauth.ResponseBodyError);
    expect((outcome as oauth.ResponseBodyError).cause).toEqual({
      error: 'invalid_grant',
      error_description: "The API key belongs to a different organization than the token's issuer.",
      rialto_error: 'org_mismatch',
    });
  });

  it('a failed Basic authentication reaches the client as its Basic challenge', async () => {
    const answer = oauthErrorResponse(new RialtoError('invalid_api_key'), {
      endpoint: 'token',
      clientAuthMethod: 'client_secret_basic',
    });
    const { outcome } = await exchangeWith(
      (fetch) => client.refreshTokenGrant(openidClient('org', client.ClientSecretBasic(API_KEY), fetch), 'r'),
      answer,
    );
    expect(outcome).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect((outcome as client.WWWAuthenticateChallengeError).cause).toEqual([
      {
        scheme: 'basic',
        parameters: {
          realm: 'rialto',
          error: 'invalid_client',
          error_description: 'The API key is not valid for any organization.',
        },
      },
    ]);
  });

  it('a 503 reaches openid-client as a non-conform response whose body and Retry-After stay readable', async () => {
    const answer = oauthErrorResponse(new RialtoError('discovery_failed'), { endpoint: 'token' });
    const outcome = (await openidClientError(answer)) as { code?: string; cause?: unknown };
    expect(outcome.code).toBe('OAUTH_RESPONSE_IS_NOT_CONFORM');
    const response = outcome.cause as Response;
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: "The issuer's OpenID configuration or key set could not be retrieved.",
      rialto_error: 'discovery_failed',
    });
  });
});
