import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/**
 * Attacks from RFC 8725 (JWT best current practices) and beyond. Each asserts the exact error and
 * that the store saw no write.
 */
describe('adversarial ID tokens', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let apiKey: string;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    t = createTestApp({ rateLimit: false });
    ({ apiKey } = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: idp.issuer,
      client_ids: ['partner-app'],
    }));
  });
  afterAll(() => idp.close());
  beforeEach(() => t.store.resetWrites());

  async function expectRejected(
    token: string,
    status: number,
    code: Parameters<typeof expectFailsWith>[2],
    description?: RegExp,
  ) {
    expectFailsWith(await exchange(t.app, apiKey, { token }), status, code, description);
    expect(t.store.writes).toEqual([]);
  }

  it.each([
    ['path traversal', '../../../../etc/passwd'],
    ['SQL', "' OR 1=1; DROP TABLE users; --"],
    ['10 KB of text', 'k'.repeat(10 * 1024)],
    ['a URL', 'https://attacker.example/key.pem'],
  ])('refuses a kid carrying %s with invalid_signature', async (_, kid) => {
    await expectRejected(await idp.sign(idTokenClaims(idp.issuer), { kid }), 401, 'invalid_signature');
  });

  it('ignores jku, x5u and embedded jwk headers and never fetches them', async () => {
    let attackerRequests = 0;
    const attacker = createServer((_req, res) => {
      attackerRequests++;
      res.end('{}');
    });
    attacker.listen(0, '127.0.0.1');
    await once(attacker, 'listening');
    const attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    try {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const token = await idp.sign(idTokenClaims(idp.issuer), {
        key: privateKey,
        kid: idp.kid,
        header: { jku: `${attackerUrl}/jwks`, x5u: `${attackerUrl}/cert`, jwk: await exportJWK(publicKey) },
      });
      await expectRejected(token, 401, 'invalid_signature');
      expect(attackerRequests).toBe(0);
    } finally {
      attacker.close();
    }
  });

  it('refuses a crit header naming an unknown extension, even when correctly signed', async () => {
    const header = { alg: 'RS256', kid: idp.kid, crit: ['urn:example:unknown'], 'urn:example:unknown': 1 };
    const token = idp.signRaw(header, JSON.stringify(idTokenClaims(idp.issuer)));
    await expectRejected(token, 400, 'invalid_token', /JWS features/);
  });

  it('refuses an unencoded payload (b64: false), even when correctly signed', async () => {
    const header = { alg: 'RS256', kid: idp.kid, b64: false, crit: ['b64'] };
    const token = idp.signRaw(header, JSON.stringify(idTokenClaims(idp.issuer)));
    await expectRejected(token, 400, 'invalid_token');
  });

  it('refuses a JWE (five parts)', async () => {
    await expectRejected(
      `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a2V5.aXY.Y2lwaGVy.dGFn`,
      400,
      'invalid_token',
      /three/,
    );
  });

  it('refuses a nested JWT whose payload is another JWT', async () => {
    const inner = await idp.sign(idTokenClaims(idp.issuer));
    const outer = `${b64({ alg: 'RS256', kid: idp.kid, cty: 'JWT' })}.${Buffer.from(inner).toString('base64url')}.c2ln`;
    await expectRejected(outer, 400, 'invalid_token', /JSON object payload/);
  });

  it.each([
    ['a JSON array payload', `${b64({ alg: 'RS256' })}.${b64(['sub', 'email'])}.c2ln`],
    ['a JSON string payload', `${b64({ alg: 'RS256' })}.${b64('user-1')}.c2ln`],
    ['a null payload', `${b64({ alg: 'RS256' })}.${b64(null)}.c2ln`],
    [
      'a header that is not JSON',
      `${Buffer.from('{alg:RS256}').toString('base64url')}.${b64({ sub: 'u' })}.c2ln`,
    ],
    ['a JSON array header', `${b64(['RS256'])}.${b64({ sub: 'u' })}.c2ln`],
  ])('refuses %s as not a JWT', async (_, token) => {
    await expectRejected(token, 400, 'invalid_token', /JSON header and JSON object payload/);
  });

  it('refuses a non-canonical header or payload part, not only the signature', async () => {
    // JSON of 3n + 1 bytes (trailing spaces are still JSON) encodes to base64url whose last
    // character carries 4 unused bits: flipping the lowest gives another spelling of the same bytes.
    const spelled = (value: unknown) => {
      let json = JSON.stringify(value);
      while (json.length % 3 !== 1) json += ' ';
      return Buffer.from(json).toString('base64url');
    };
    const twin = (segment: string) => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      return `${segment.slice(0, -1)}${alphabet[alphabet.indexOf(segment.at(-1) as string) ^ 1]}`;
    };
    const header = spelled({ alg: 'RS256', kid: idp.kid });
    const payload = spelled(idTokenClaims(idp.issuer));
    expect(Buffer.from(twin(payload), 'base64url')).toEqual(Buffer.from(payload, 'base64url'));
    await expectRejected(`${twin(header)}.${payload}.c2ln`, 400, 'invalid_token', /canonical base64url/);
    await expectRejected(`${header}.${twin(payload)}.c2ln`, 400, 'invalid_token', /canonical base64url/);
  });

  it('reads duplicate claim names as the lexically last in every check and in the minted token (RFC 7515 §5.2)', async () => {
    const claims = idTokenClaims(idp.issuer, { sub: 'duplicate', email: 'first@example.com' });
    const payload = JSON.stringify(claims).replace(/}$/, ',"email":"last@example.com"}');
    const response = await exchange(t.app, apiKey, {
      token: idp.signRaw({ alg: 'RS256', kid: idp.kid }, payload),
    });
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token).email).toBe('last@example.com');
    t.store.resetWrites();

    const spoofed = JSON.stringify(claims).replace(/}$/, ',"iss":"https://spoofed.example"}');
    await expectRejected(idp.signRaw({ alg: 'RS256', kid: idp.kid }, spoofed), 403, 'issuer_not_registered');
  });

  it.each([
    ['exp as a string', { exp: String(now() + 600) }, 400, 'invalid_token', /"exp" claim is malformed/],
    ['nbf as a string', { nbf: String(now() - 10) }, 400, 'invalid_token', /"nbf" claim is malformed/],
    ['iat as a string', { iat: String(now()) }, 400, 'invalid_token', /"iat" claim is malformed/],
    ['exp as a huge number', { exp: 1e300 }, 400, 'invalid_token', /too far in the future/],
    ['iat as a huge number', { iat: 1e300 }, 400, 'invalid_token', /issued in the future/],
    ['a negative exp', { exp: -1 }, 401, 'token_expired', undefined],
    ['exp as an object', { exp: { $gt: 0 } }, 400, 'invalid_token', /"exp" claim is malformed/],
  ] as const)('refuses %s', async (_, overrides, status, code, description) => {
    await expectRejected(await idp.sign(idTokenClaims(idp.issuer, overrides)), status, code, description);
  });

  it('accepts fractional NumericDate values, which RFC 7519 allows', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer, { exp: now() + 600.5, iat: now() - 0.5 }));
    expect((await exchange(t.app, apiKey, { token })).status).toBe(200);
  });

  it.each([
    ['different case', (issuer: string) => issuer.toUpperCase()],
    ['dot segments', (issuer: string) => `${issuer}/tenant/../`],
  ])(
    "finds the org for an iss spelled with %s, then refuses it for not being the IdP's exact issuer",
    async (_, mutate) => {
      await expectRejected(
        await idp.sign(idTokenClaims(idp.issuer, { iss: mutate(idp.issuer) })),
        401,
        'invalid_issuer',
      );
    },
  );

  it.each([
    ['an extra path', (issuer: string) => `${issuer}/tenant`],
    ['a different scheme', (issuer: string) => issuer.replace('http://', 'https://')],
    ['a different port', (issuer: string) => issuer.replace(/:(\d+)$/, (_, port) => `:${Number(port) + 1}`)],
  ])('treats an iss with %s as another, unregistered issuer', async (_, mutate) => {
    await expectRejected(
      await idp.sign(idTokenClaims(idp.issuer, { iss: mutate(idp.issuer) })),
      403,
      'issuer_not_registered',
    );
  });

  it('refuses a 100 KB token with request_too_large before parsing it', async () => {
    await expectRejected(`${b64({ alg: 'RS256' })}.${'A'.repeat(100 * 1024)}.c2ln`, 413, 'request_too_large');
  });

  it("refuses a token from the right IdP issued to another organization's client", async () => {
    await expectRejected(
      await idp.sign(idTokenClaims(idp.issuer, { aud: 'other-orgs-app' })),
      401,
      'invalid_audience',
    );
  });

  it('refuses non-canonical base64url that decodes to the same signature', async () => {
    const token = await idp.sign(idTokenClaims(idp.issuer));
    const signature = token.split('.')[2] as string;
    // The last character of a 256-byte signature carries 2 unused bits; flipping them keeps the bytes.
    const last = signature.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) ^ 1] as string;
    const malleable = `${token.slice(0, -1)}${twin}`;
    expect(Buffer.from(malleable.split('.')[2] as string, 'base64url')).toEqual(
      Buffer.from(signature, 'base64url'),
    );
    await expectRejected(malleable, 400, 'invalid_token', /canonical base64url/);
  });

  it('never accepts a random mutation of a valid token', async () => {
    const valid = await idp.sign(
      idTokenClaims(idp.issuer, { sub: 'property-user', email: 'property@example.com' }),
    );
    expect((await exchange(t.app, apiKey, { token: valid })).status).toBe(200);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), char: fc.constantFrom(...alphabet) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), char: fc.constantFrom(...alphabet) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), char: fc.constant('') }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), char: fc.constant('') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        let token = valid;
        for (const { kind, at, char } of mutations) {
          const i = at % (token.length + 1);
          if (kind === 'replace') token = token.slice(0, i) + char + token.slice(i + 1);
          if (kind === 'insert') token = token.slice(0, i) + char + token.slice(i);
          if (kind === 'delete') token = token.slice(0, i) + token.slice(i + 1);
          if (kind === 'truncate') token = token.slice(0, i);
        }
        fc.pre(token !== valid);
        const response = await exchange(t.app, apiKey, { token });
        expect(response.status).not.toBe(200);
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
  });
});
