import { createHash } from 'node:crypto';
import {
  base64url,
  CompactSign,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWTHeaderParameters,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import {
  accessTokenHash,
  createDpopProofVerifier as createVerifier,
  type DpopProofVerifierOptions,
} from './dpop-proof.js';
import { OAuthError } from './oauth-error.js';

// The exchange's default clockToleranceSeconds, which its endpoints pass.
const createDpopProofVerifier = (
  options: Omit<DpopProofVerifierOptions, 'clockToleranceSeconds'> & Partial<DpopProofVerifierOptions>,
) => createVerifier({ clockToleranceSeconds: 30, ...options });

const NOW = 1_800_000_000;
const TOKEN_URL = 'https://api.example.com/auth/oauth/token';
const request = { method: 'POST', url: TOKEN_URL };

/** The store's consumeOnce, as its contract says, in memory; `calls` shows what the verifier asked. */
function singleUseKeys() {
  const recorded = new Map<string, number>();
  const calls: Array<[string, number, number]> = [];
  const consumeOnce: DpopProofVerifierOptions['consumeOnce'] = async (key, expiresAt, now) => {
    calls.push([key, expiresAt, now]);
    const until = recorded.get(key);
    if (until !== undefined && now < until) return false;
    recorded.set(key, expiresAt);
    return true;
  };
  return { consumeOnce, calls };
}

async function proofKey(alg = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

type ProofKey = Awaited<ReturnType<typeof proofKey>>;

async function proof(
  key: ProofKey,
  payload: JWTPayload = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu: TOKEN_URL, iat: NOW, ...payload })
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...header })
    .sign(key.privateKey);
}

function unsigned(header: object, payload: object): string {
  const part = (value: object) => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(payload)}.`;
}

async function refusal(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OAuthError);
  expect((error as OAuthError).code).toBe('invalid_dpop_proof');
  expect((error as OAuthError).status).toBe(400);
  return error as OAuthError;
}

let key: ProofKey;
let keys: ReturnType<typeof singleUseKeys>;
let verifier: ReturnType<typeof createDpopProofVerifier>;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW * 1000);
  key ??= await proofKey();
  keys = singleUseKeys();
  verifier = createDpopProofVerifier({ consumeOnce: keys.consumeOnce, clockToleranceSeconds: 30 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('createDpopProofVerifier', () => {
  it('accepts a valid proof and answers its key thumbprint (RFC 7638), jti and iat', async () => {
    const jti = 'proof-1';
    expect(await verifier.verify(await proof(key, { jti }), request)).toEqual({
      jkt: key.jkt,
      jti,
      iat: NOW,
    });
  });

  it.each(['RS256', 'PS256', 'ES384', 'EdDSA'])('accepts a proof signed with %s', async (alg) => {
    const other = await proofKey(alg);
    expect((await verifier.verify(await proof(other), request)).jkt).toBe(other.jkt);
  });

  it('records the jti until the proof could no longer pass the iat check, then refuses a replay', async () => {
    const once = await proof(key, { iat: NOW - 10 });
    await verifier.verify(once, request);
    expect(keys.calls).toEqual([[expect.stringMatching(/^[0-9a-f]{64}$/), NOW - 10 + 90 + 1, NOW]]);
    const error = await refusal(verifier.verify(once, request));
    expect(error.description).toBe('The DPoP proof was already used; make a new proof for each request.');
  });

  it('still refuses a replay in the last second the proof passes the iat check', async () => {
    const atTheEdge = await proof(key, { iat: NOW - 90 });
    await verifier.verify(atTheEdge, request);
    const error = await refusal(verifier.verify(atTheEdge, request));
    expect(error.description).toBe('The DPoP proof was already used; make a new proof for each request.');
  });

  it('keeps jtis of different keys apart', async () => {
    const other = await proofKey();
    await verifier.verify(await proof(key, { jti: 'same' }), request);
    expect((await verifier.verify(await proof(other, { jti: 'same' }), request)).jkt).toBe(other.jkt);
  });

  it('spends no jti on a proof an earlier check refused', async () => {
    await refusal(verifier.verify(await proof(key, { htm: 'GET' }), request));
    expect(keys.calls).toEqual([]);
  });

  it('passes a store outage on instead of calling it an invalid proof', async () => {
    const down = createDpopProofVerifier({
      consumeOnce: async () => {
        throw new StoreUnavailableError('redis down');
      },
    });
    await expect(down.verify(await proof(key), request)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  describe('refuses, with invalid_dpop_proof', () => {
    it('a request without a DPoP header, or with two', async () => {
      for (const header of [undefined, '', []]) {
        expect((await refusal(verifier.verify(header, request))).description).toBe(
          'A DPoP proof is required in the DPoP header.',
        );
      }
      const two = [await proof(key), await proof(key)];
      expect((await refusal(verifier.verify(two, request))).description).toBe(
        'Send exactly one DPoP header.',
      );
    });

    it('anything but one compact JWT, such as two headers joined by the HTTP parser', async () => {
      for (const header of [`${await proof(key)}, ${await proof(key)}`, 'abc', 'a.b', 'a.b.c.d.e']) {
        expect((await refusal(verifier.verify(header, request))).description).toBe(
          'The DPoP header must hold one JWT in compact form.',
        );
      }
    });

    it('a proof larger than any real key makes, before any crypto', async () => {
      const huge = await proof(key, { padding: 'x'.repeat(9000) });
      expect((await refusal(verifier.verify(huge, request))).description).toBe(
        'The DPoP proof is too large.',
      );
    });

    it('a typ other than dpop+jwt', async () => {
      for (const typ of ['JWT', 'at+jwt', undefined]) {
        const error = await refusal(verifier.verify(await proof(key, {}, { typ }), request));
        expect(error.description).toBe('The DPoP proof must have typ "dpop+jwt".');
      }
    });

    it('alg none, a symmetric alg, or an alg outside the configured list', async () => {
      const description =
        'The DPoP proof must be signed with one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519.';
      const none = unsigned(
        { alg: 'none', typ: 'dpop+jwt', jwk: key.jwk },
        { jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: NOW },
      );
      expect((await refusal(verifier.verify(none, request))).description).toBe(description);
      const secret = new TextEncoder().encode('a'.repeat(32));
      const hs256 = await new SignJWT({ jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: NOW })
        .setProtectedHeader({
          alg: 'HS256',
          typ: 'dpop+jwt',
          jwk: { kty: 'oct', k: base64url.encode(secret) },
        } as JWTHeaderParameters)
        .sign(secret);
      expect((await refusal(verifier.verify(hs256, request))).description).toBe(description);

      const es256Only = createDpopProofVerifier({ consumeOnce: keys.consumeOnce, algorithms: ['ES256'] });
      const rsa = await proofKey('RS256');
      expect((await refusal(es256Only.verify(await proof(rsa), request))).description).toBe(
        'The DPoP proof must be signed with one of ES256.',
      );
    });

    it('a proof without its public key in jwk', async () => {
      for (const jwk of [undefined, 'key', ['k']]) {
        const error = await refusal(verifier.verify(await proof(key, {}, { jwk }), request));
        expect(error.description).toBe('The DPoP proof must carry its public key in the jwk header.');
      }
    });

    it('a jwk with its private part', async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      const signed = await new SignJWT({ jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: NOW })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: privateJwk })
        .sign(privateKey);
      expect((await refusal(verifier.verify(signed, request))).description).toBe(
        "The DPoP proof's jwk must be a public key, without its private part.",
      );
    });

    it('a proof signed by another key than its jwk, or altered after signing', async () => {
      const other = await proofKey();
      const description = "The DPoP proof's signature does not verify with its jwk.";
      const mismatched = await proof(other, {}, { jwk: key.jwk });
      expect((await refusal(verifier.verify(mismatched, request))).description).toBe(description);

      const [header, , signature] = (await proof(key)).split('.');
      const altered = base64url.encode(
        JSON.stringify({ jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: NOW + 1 }),
      );
      expect((await refusal(verifier.verify(`${header}.${altered}.${signature}`, request))).description).toBe(
        description,
      );
    });

    it('a payload that is not a JSON object', async () => {
      const signed = await new CompactSign(new TextEncoder().encode('["jti"]'))
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
        .sign(key.privateKey);
      expect((await refusal(verifier.verify(signed, request))).description).toBe(
        "The DPoP proof's payload must be a JSON object.",
      );
    });

    it.each([
      ['jti', { jti: undefined }],
      ['an empty jti', { jti: '' }],
      ['htm', { htm: undefined }],
      ['htu', { htu: undefined }],
      ['iat', { iat: undefined }],
      ['a string iat', { iat: String(NOW) }],
    ])('a proof without %s', async (_, claims) => {
      const error = await refusal(verifier.verify(await proof(key, claims as JWTPayload), request));
      expect(error.description).toBe('The DPoP proof must have the claims jti, htm, htu and iat.');
    });

    it('an htm other than the request method, compared exactly', async () => {
      for (const htm of ['GET', 'post']) {
        const error = await refusal(verifier.verify(await proof(key, { htm }), request));
        expect(error.description).toBe("The DPoP proof's htm is not the method of this request.");
      }
    });

    it('an htu other than the endpoint URL', async () => {
      for (const htu of [
        'https://api.example.com/oauth/token',
        'https://evil.example/auth/oauth/token',
        'http://api.example.com/auth/oauth/token',
        'https://api.example.com:8443/auth/oauth/token',
        'https://api.example.com/auth/oauth/token/',
        'not a url',
      ]) {
        const error = await refusal(verifier.verify(await proof(key, { htu }), request));
        expect(error.description).toBe("The DPoP proof's htu is not the URL of this endpoint.");
      }
    });

    it('an iat more than 60 s plus the clock tolerance from now, either way', async () => {
      for (const iat of [NOW - 91, NOW + 91]) {
        const error = await refusal(verifier.verify(await proof(key, { iat }), request));
        expect(error.description).toBe(
          "The DPoP proof's iat is more than 60 seconds from now; make a new proof for each request.",
        );
      }
    });

    it('a nonce, since this service issues none', async () => {
      const error = await refusal(verifier.verify(await proof(key, { nonce: 'n' }), request));
      expect(error.description).toBe(
        'This service issues no DPoP nonces; send the proof without a nonce claim.',
      );
    });

    it('at a resource server, an ath missing or not the hash of the access token', async () => {
      const atResource = {
        method: 'GET',
        url: 'https://api.example.com/portfolio',
        accessToken: 'access.token.value',
      };
      for (const ath of [undefined, accessTokenHash('another.token.value')]) {
        const signed = await proof(key, { htm: 'GET', htu: atResource.url, ath });
        const error = await refusal(verifier.verify(signed, atResource));
        expect(error.description).toBe(
          "The DPoP proof's ath is not the hash of the access token sent with it.",
        );
      }
    });
  });

  it('accepts an iat at the edges of the window', async () => {
    for (const iat of [NOW - 90, NOW + 90]) {
      expect((await verifier.verify(await proof(key, { iat }), request)).iat).toBe(iat);
    }
  });

  it('compares htu without query and fragment, after URL normalization (§4.3 point 9)', async () => {
    for (const htu of [
      `${TOKEN_URL}?x=1#frag`,
      'HTTPS://API.EXAMPLE.COM/auth/oauth/token',
      'https://api.example.com:443/auth/oauth/token',
      'https://api.example.com/auth/./oauth/token',
    ]) {
      await verifier.verify(await proof(key, { htu }), request);
    }
  });

  it('checks ath against the access token: base64url(SHA-256(token)) (§4.2)', async () => {
    const accessToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';
    expect(accessTokenHash(accessToken)).toBe(createHash('sha256').update(accessToken).digest('base64url'));
    const atResource = { method: 'GET', url: 'https://api.example.com/portfolio', accessToken };
    const signed = await proof(key, { htm: 'GET', htu: atResource.url, ath: accessTokenHash(accessToken) });
    expect((await verifier.verify(signed, atResource)).jkt).toBe(key.jkt);
  });

  it('refuses at factory time an algorithm list that is empty, symmetric, none or unknown', () => {
    const message =
      'createDpopProofVerifier: `algorithms` must be a non-empty list of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 (asymmetric only, RFC 9449 §4.3)';
    for (const algorithms of [[], ['HS256'], ['ES256', 'none'], ['ES257']]) {
      expect(() => createDpopProofVerifier({ consumeOnce: keys.consumeOnce, algorithms })).toThrow(
        new TypeError(message),
      );
    }
  });

  it('lists the algorithms it accepts, for the metadata and challenges', () => {
    expect(verifier.algorithms).toEqual([
      'RS256',
      'RS384',
      'RS512',
      'PS256',
      'PS384',
      'PS512',
      'ES256',
      'ES384',
      'ES512',
      'EdDSA',
      'Ed25519',
    ]);
    expect(
      createDpopProofVerifier({ consumeOnce: keys.consumeOnce, algorithms: ['ES256', 'EdDSA'] }).algorithms,
    ).toEqual(['ES256', 'EdDSA']);
  });
});
