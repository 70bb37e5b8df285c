import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RequestLike } from '../http/http-types.js';
import { createDpopProofVerifier as createVerifier, type DpopProofVerifierOptions } from './dpop-proof.js';
import { OAuthError } from './oauth-error.js';
import {
  authenticateProtectedRequest,
  dpopChallenge,
  readPresentedAccessToken,
} from './protected-request.js';

// The exchange's default clockToleranceSeconds, which its endpoints pass.
const createDpopProofVerifier = (
  options: Omit<DpopProofVerifierOptions, 'clockToleranceSeconds'> & Partial<DpopProofVerifierOptions>,
) => createVerifier({ clockToleranceSeconds: 30, ...options });

const RESOURCE = 'https://api.example.com/portfolio';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl';
const ALGS = 'ES256 EdDSA';

interface Claims {
  sub: string;
  cnf?: { jkt?: string };
}

function singleUseKeys() {
  const recorded = new Set<string>();
  const calls: string[] = [];
  const consumeOnce: DpopProofVerifierOptions['consumeOnce'] = async (key) => {
    calls.push(key);
    if (recorded.has(key)) return false;
    recorded.add(key);
    return true;
  };
  return { consumeOnce, calls };
}

/** The request a standard client sends, captured instead of sent. */
async function sentBy(send: (fetch: typeof globalThis.fetch) => Promise<unknown>): Promise<RequestLike> {
  let captured: RequestLike | undefined;
  await send(async (url, init) => {
    captured = {
      method: init?.method ?? 'GET',
      path: new URL(String(url)).pathname,
      headers: init?.headers as Record<string, string>,
    };
    return new Response('{}', { headers: { 'content-type': 'application/json' } });
  });
  if (!captured) throw new Error('the client sent nothing');
  return captured;
}

function viaOauth4webapi(token: string, dpop?: oauth.DPoPHandle, url = RESOURCE) {
  return sentBy((fetch) =>
    oauth.protectedResourceRequest(token, 'GET', new URL(url), undefined, undefined, {
      ...(dpop ? { DPoP: dpop } : {}),
      [oauth.customFetch]: fetch,
    }),
  );
}

async function refusal(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

let keyPair: oauth.CryptoKeyPair;
let jkt: string;

beforeAll(async () => {
  keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
  jkt = await oauth.DPoP({}, keyPair).calculateThumbprint();
});

function setup(claims: Claims) {
  const keys = singleUseKeys();
  const dpop = createDpopProofVerifier({ consumeOnce: keys.consumeOnce, algorithms: ['ES256', 'EdDSA'] });
  const verified: string[] = [];
  const authenticate = (request: RequestLike, url = RESOURCE) =>
    authenticateProtectedRequest<Claims>(
      { method: request.method, url, headers: request.headers },
      {
        verifyAccessToken: async (token) => {
          verified.push(token);
          return claims;
        },
        dpop,
      },
    );
  return { authenticate, keys, verified };
}

describe('readPresentedAccessToken', () => {
  it('reads Bearer and DPoP tokens in any case of the scheme, and nothing else', () => {
    expect(readPresentedAccessToken({ authorization: `Bearer ${TOKEN}` })).toEqual({
      scheme: 'Bearer',
      token: TOKEN,
    });
    expect(readPresentedAccessToken({ authorization: `dpop ${TOKEN}` })).toEqual({
      scheme: 'DPoP',
      token: TOKEN,
    });
    for (const authorization of [undefined, `Basic ${TOKEN}`, 'Bearer', 'DPoP a b', `Bearer ${TOKEN}"`]) {
      expect(readPresentedAccessToken({ authorization })).toBeUndefined();
    }
  });
});

describe('authenticateProtectedRequest', () => {
  it('accepts an unbound token sent as Bearer', async () => {
    const { authenticate } = setup({ sub: 'user' });
    expect(await authenticate(await viaOauth4webapi(TOKEN))).toEqual({
      claims: { sub: 'user' },
      token: TOKEN,
      scheme: 'Bearer',
      jkt: undefined,
    });
  });

  it('answers undefined when the request presents no access token', async () => {
    const { authenticate, verified } = setup({ sub: 'user' });
    expect(await authenticate({ method: 'GET', path: '/portfolio', headers: {} })).toBeUndefined();
    expect(verified).toEqual([]);
  });

  it("accepts a bound token with oauth4webapi's DPoP proof of the same key", async () => {
    const { authenticate } = setup({ sub: 'user', cnf: { jkt } });
    const request = await viaOauth4webapi(TOKEN, oauth.DPoP({}, keyPair));
    expect(request.headers.authorization).toBe(`DPoP ${TOKEN}`);
    expect(await authenticate(request)).toEqual({
      claims: { sub: 'user', cnf: { jkt } },
      token: TOKEN,
      scheme: 'DPoP',
      jkt,
    });
  });

  it("accepts a bound token with openid-client's DPoP handle, on a URL with a query", async () => {
    const { authenticate } = setup({ sub: 'user', cnf: { jkt } });
    const config = new client.Configuration({ issuer: 'https://api.example.com' }, 'org-id');
    const url = `${RESOURCE}?currency=EUR`;
    const request = await sentBy((fetch) => {
      config[client.customFetch] = fetch;
      return client.fetchProtectedResource(config, TOKEN, new URL(url), 'GET', undefined, undefined, {
        DPoP: client.getDPoPHandle(config, keyPair),
      });
    });
    expect((await authenticate(request, url))?.jkt).toBe(jkt);
  });

  it('refuses a bound token sent as Bearer with 401 invalid_token and a DPoP challenge (RFC 9449 §7.2)', async () => {
    const { authenticate } = setup({ sub: 'user', cnf: { jkt } });
    const error = await refusal(authenticate(await viaOauth4webapi(TOKEN)));
    const description =
      'The access token is bound to a DPoP key; send it as Authorization: DPoP with a proof.';
    expect([error.code, error.status, error.description]).toEqual(['invalid_token', 401, description]);
    expect(error.headers).toEqual({
      'www-authenticate': `DPoP realm="rialto", error="invalid_token", error_description="${description}", algs="${ALGS}"`,
    });
  });

  it('refuses an unbound token sent as DPoP with 401 invalid_token, spending no proof', async () => {
    const { authenticate, keys } = setup({ sub: 'user' });
    const error = await refusal(authenticate(await viaOauth4webapi(TOKEN, oauth.DPoP({}, keyPair))));
    expect([error.code, error.status, error.description]).toEqual([
      'invalid_token',
      401,
      'The access token is not bound to a DPoP key; send it as Authorization: Bearer.',
    ]);
    expect(keys.calls).toEqual([]);
  });

  it('refuses a DPoP proof sent with the Bearer scheme with 400 invalid_request', async () => {
    const { authenticate, verified } = setup({ sub: 'user' });
    const request = await viaOauth4webapi(TOKEN, oauth.DPoP({}, keyPair));
    const headers = { ...request.headers, authorization: `Bearer ${TOKEN}` };
    const error = await refusal(authenticate({ ...request, headers }));
    const description = 'A DPoP proof was sent with the Bearer scheme; use Authorization: DPoP.';
    expect([error.code, error.status, error.description]).toEqual(['invalid_request', 400, description]);
    expect(error.headers['www-authenticate']).toBe(
      `Bearer realm="rialto", error="invalid_request", error_description="${description}"`,
    );
    expect(verified).toEqual([]);
  });

  it('refuses a bound token as DPoP without a proof with 401 invalid_dpop_proof', async () => {
    const { authenticate } = setup({ sub: 'user', cnf: { jkt } });
    const error = await refusal(
      authenticate({ method: 'GET', path: '/portfolio', headers: { authorization: `DPoP ${TOKEN}` } }),
    );
    const description = 'A DPoP proof is required in the DPoP header.';
    expect([error.code, error.status, error.description]).toEqual(['invalid_dpop_proof', 401, description]);
    expect(error.headers['www-authenticate']).toBe(
      `DPoP realm="rialto", error="invalid_dpop_proof", error_description="${description}", algs="${ALGS}"`,
    );
  });

  it('refuses a proof made for another URL, or replayed, with 401 invalid_dpop_proof', async () => {
    const { authenticate } = setup({ sub: 'user', cnf: { jkt } });
    const elsewhere = await viaOauth4webapi(TOKEN, oauth.DPoP({}, keyPair), 'https://api.example.com/other');
    expect((await refusal(authenticate(elsewhere))).description).toBe(
      "The DPoP proof's htu is not the URL of this endpoint.",
    );
    const once = await viaOauth4webapi(TOKEN, oauth.DPoP({}, keyPair));
    await authenticate(once);
    const replayed = await refusal(authenticate(once));
    expect([replayed.code, replayed.status, replayed.description]).toEqual([
      'invalid_dpop_proof',
      401,
      'The DPoP proof was already used; make a new proof for each request.',
    ]);
  });

  it('refuses a proof made for another access token (ath) with 401 invalid_dpop_proof', async () => {
    const { authenticate } = setup({ sub: 'user', cnf: { jkt } });
    const request = await viaOauth4webapi('another.access.token', oauth.DPoP({}, keyPair));
    const headers = { ...request.headers, authorization: `DPoP ${TOKEN}` };
    const error = await refusal(authenticate({ ...request, headers }));
    expect([error.code, error.status, error.description]).toEqual([
      'invalid_dpop_proof',
      401,
      "The DPoP proof's ath is not the hash of the access token sent with it.",
    ]);
  });

  it('refuses a valid proof of another key than the token is bound to with 401 invalid_token', async () => {
    const { authenticate } = setup({ sub: 'user', cnf: { jkt } });
    const otherKeys = await oauth.generateKeyPair('ES256', { extractable: true });
    const error = await refusal(authenticate(await viaOauth4webapi(TOKEN, oauth.DPoP({}, otherKeys))));
    expect([error.code, error.status, error.description]).toEqual([
      'invalid_token',
      401,
      "The access token is bound to another key than the DPoP proof's.",
    ]);
  });

  it('passes what verifyAccessToken throws on untouched, before spending the proof', async () => {
    const keys = singleUseKeys();
    const dpop = createDpopProofVerifier({ consumeOnce: keys.consumeOnce });
    const expired = new Error('token expired');
    const request = await viaOauth4webapi(TOKEN, oauth.DPoP({}, keyPair));
    const attempt = authenticateProtectedRequest(
      { method: 'GET', url: RESOURCE, headers: request.headers },
      {
        verifyAccessToken: async () => {
          throw expired;
        },
        dpop,
      },
    );
    await expect(attempt).rejects.toBe(expired);
    expect(keys.calls).toEqual([]);
  });

  it('writes challenges that oauth4webapi parses', async () => {
    const challenge = dpopChallenge(['ES256', 'EdDSA'], 'invalid_token', 'A "quoted" description.');
    const attempt = oauth.protectedResourceRequest(TOKEN, 'GET', new URL(RESOURCE), undefined, undefined, {
      [oauth.customFetch]: async () =>
        new Response(null, { status: 401, headers: { 'www-authenticate': challenge } }),
    });
    const error = await attempt.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect((error as oauth.WWWAuthenticateChallengeError).cause).toEqual([
      {
        scheme: 'dpop',
        parameters: {
          realm: 'rialto',
          error: 'invalid_token',
          error_description: 'A "quoted" description.',
          algs: 'ES256 EdDSA',
        },
      },
    ]);
    expect(dpopChallenge(['ES256'])).toBe('DPoP realm="rialto", algs="ES256"');
  });
});
