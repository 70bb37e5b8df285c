import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
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

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('bad input never crashes the process and never writes', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let apiKey: string;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    t = createTestApp();
    ({ apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer }));
  });
  afterAll(() => idp.close());

  async function expectStillServing() {
    const response = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    expect(response.status).toBe(200);
  }

  it.each([
    ['a non-JSON body', 'token=abc', 400, 'invalid_token'],
    ['an empty body', '', 400, 'invalid_token'],
    ['JSON null', 'null', 400, 'invalid_token'],
    [
      'a token with 2 parts',
      { token: `${b64({ alg: 'RS256' })}.${b64(idTokenClaims('x'))}` },
      400,
      'invalid_token',
    ],
    [
      'a token with 4 parts',
      { token: `${b64({ alg: 'RS256' })}.${b64({})}.c2ln.c2ln` },
      400,
      'invalid_token',
    ],
    ['non-base64 segments', { token: '%%%.***.~~~' }, 400, 'invalid_token'],
    [
      'base64 that decodes to binary',
      { token: `${b64('\u0000\u0001')}.${b64('\u00ff')}.c2ln` },
      400,
      'invalid_token',
    ],
    [
      'a JSON-array payload',
      { token: `${b64({ alg: 'RS256' })}.${b64([1, 2, 3])}.c2ln` },
      400,
      'invalid_token',
    ],
    [
      'a payload that is a JSON string',
      { token: `${b64({ alg: 'RS256' })}.${b64('"hi"')}.c2ln` },
      400,
      'invalid_token',
    ],
    [
      'an iss that is a number',
      { token: `${b64({ alg: 'RS256' })}.${b64({ iss: 7 })}.c2ln` },
      401,
      'invalid_issuer',
    ],
    [
      'an iss that is an object',
      { token: `${b64({ alg: 'RS256' })}.${b64({ iss: {} })}.c2ln` },
      401,
      'invalid_issuer',
    ],
  ] as const)('rejects %s', async (_, body, status, code) => {
    t.store.resetWrites();
    expectFailsWith(await exchange(t.app, apiKey, body), status, code);
    expect(t.store.writes).toEqual([]);
    await expectStillServing();
  });

  it('rejects exp given as a string after verifying the signature', async () => {
    t.store.resetWrites();
    const token = await idp.sign(idTokenClaims(idp.issuer, { exp: '9999999999' }));
    expectFailsWith(
      await exchange(t.app, apiKey, { token }),
      400,
      'invalid_token',
      /"exp" claim is malformed/,
    );
    expect(t.store.writes).toEqual([]);
  });

  it('rejects a 1 MB body with request_too_large 413 without reading it all', async () => {
    t.store.resetWrites();
    const response = await exchange(t.app, apiKey, { token: 'a'.repeat(1024 * 1024) });
    expectFailsWith(response, 413, 'request_too_large', /65536 bytes/);
    expect(t.store.writes).toEqual([]);
    await expectStillServing();
  });

  it('rejects a compressed body with unsupported_media_type 415', async () => {
    const response = await request(t.app)
      .post('/identity/auth/exchange')
      .set('x-api-key', apiKey)
      .set('content-encoding', 'gzip')
      .send('{"token":"x"}');
    expectFailsWith(response, 415, 'unsupported_media_type');
  });
});
