import { decodeJwt } from 'jose';
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

/**
 * Claim rules of OpenID Connect Core 1.0 §2 and §3.1.3.7 (errata set 2) and RFC 8725 §3.11, each
 * through the real router with a forging IdP; every refusal writes nothing.
 */
describe('ID-token claim rules', () => {
  let idp: LocalIssuer;
  let looseIdp: LocalIssuer;
  let t: TestApp;
  let apiKey: string;
  let looseApiKey: string;

  beforeAll(async () => {
    [idp, looseIdp] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
    t = createTestApp({ rateLimit: false });
    ({ apiKey } = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: idp.issuer,
      client_ids: ['partner-app', 'partner-android'],
    }));
    ({ apiKey: looseApiKey } = await registerOrganization(t.app, { name: 'Loose', issuer: looseIdp.issuer }));
  });
  afterAll(async () => {
    await Promise.all([idp.close(), looseIdp.close()]);
  });
  beforeEach(() => t.store.resetWrites());

  async function send(claims: Record<string, unknown>, header?: Record<string, unknown>) {
    return exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer, claims), { header }) });
  }

  async function expectRefused(
    claims: Record<string, unknown>,
    status: number,
    code: Parameters<typeof expectFailsWith>[2],
    description: RegExp,
    header?: Record<string, unknown>,
  ) {
    expectFailsWith(await send(claims, header), status, code, description);
    expect(t.store.writes).toEqual([]);
  }

  describe('required claims', () => {
    it('refuses an ID token without exp with invalid_token 400 naming exp', async () => {
      await expectRefused(
        { exp: undefined },
        400,
        'invalid_token',
        /^The token must contain an exp claim\.$/,
      );
    });

    it('refuses an ID token without iat with invalid_token 400 naming iat', async () => {
      await expectRefused(
        { iat: undefined },
        400,
        'invalid_token',
        /^The token must contain an iat claim\.$/,
      );
    });

    it('keeps invalid_issuer 401 for a missing iss and invalid_token 400 for a missing sub', async () => {
      await expectRefused({ iss: undefined }, 401, 'invalid_issuer', /must contain an iss claim/);
      await expectRefused({ sub: undefined }, 400, 'invalid_token', /must contain a sub claim/);
    });
  });

  describe('token type', () => {
    it.each(['at+jwt', 'logout+jwt', 'application/at+jwt', 'JOSE', 'secevent+jwt'])(
      'refuses a token whose typ header is %s with invalid_token 400',
      async (typ) => {
        await expectRefused({}, 400, 'invalid_token', /"typ" must be JWT/, { typ });
      },
    );

    it.each([['JWT'], ['jwt'], ['application/JWT'], [undefined]])(
      'accepts typ %s, or no typ at all',
      async (typ) => {
        expect((await send({ sub: `typ-${typ}` }, { typ })).status).toBe(200);
      },
    );

    it('refuses a back-channel logout token (events claim, no typ) with invalid_token 400', async () => {
      await expectRefused(
        { events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, sid: 's-1' },
        400,
        'invalid_token',
        /logout token/,
        { typ: undefined },
      );
    });

    it('hints at the ID token for a Cognito access token, before the audience check', async () => {
      await expectRefused(
        { aud: undefined, token_use: 'access', client_id: 'partner-app', email: undefined },
        400,
        'invalid_token',
        /Cognito access token.*send the ID token/,
      );
    });
  });

  describe('audience (OIDC Core 3.1.3.7, errata set 2)', () => {
    it.each<[string, Record<string, unknown>, RegExp]>([
      ['no aud', { aud: undefined }, /must contain an aud claim/],
      ['no aud, only azp', { aud: undefined, azp: 'partner-app' }, /must contain an aud claim/],
      ['an empty aud list', { aud: [] }, /must contain an aud claim/],
      ['a non-string aud', { aud: [42] }, /must contain an aud claim/],
      [
        'another aud with a trusted azp',
        { aud: 'some-other-api', azp: 'partner-app' },
        /not issued to a client registered/,
      ],
      [
        'a trusted and an untrusted aud',
        { aud: ['partner-app', 'untrusted-app'], azp: 'partner-app' },
        /also addressed to an audience this organization does not trust/,
      ],
      [
        'two trusted auds and no azp',
        { aud: ['partner-app', 'partner-android'] },
        /several audiences must name a client of this organization in azp/,
      ],
      [
        'two trusted auds and an untrusted azp',
        { aud: ['partner-app', 'partner-android'], azp: 'someone-else' },
        /several audiences must name a client of this organization in azp/,
      ],
    ])('refuses %s with invalid_audience 401', async (_, claims, description) => {
      await expectRefused(claims, 401, 'invalid_audience', description);
    });

    it('accepts several trusted audiences when azp names a trusted client', async () => {
      const response = await send({
        sub: 'multi',
        aud: ['partner-app', 'partner-android'],
        azp: 'partner-android',
      });
      expect(response.status).toBe(200);
    });

    it('ignores azp when aud names one trusted client (Google hybrid apps)', async () => {
      const response = await send({ sub: 'hybrid', aud: 'partner-app', azp: 'android-client-123' });
      expect(response.status).toBe(200);
    });

    it('accepts any client of the IdP for an org registered without client_ids, but still requires aud', async () => {
      const sign = async (claims: Record<string, unknown>) =>
        looseIdp.sign(idTokenClaims(looseIdp.issuer, claims));
      const anyClient = await exchange(t.app, looseApiKey, { token: await sign({ aud: 'whatever-app' }) });
      expect(anyClient.status).toBe(200);
      expect(decodeJwt(anyClient.body.access_token).email).toBe('ada@example.com');
      t.store.resetWrites();
      const noAud = await exchange(t.app, looseApiKey, { token: await sign({ aud: undefined }) });
      expectFailsWith(noAud, 401, 'invalid_audience', /must contain an aud claim/);
      expect(t.store.writes).toEqual([]);
    });
  });

  describe('control characters in identity claims', () => {
    it.each<[string, Record<string, unknown>]>([
      ['sub', { sub: 'user\u0000123' }],
      ['sub', { sub: 'user\u007f' }],
      ['email', { email: 'ada\u0000@example.com' }],
      ['email', { email: 'ada@example.com\u001b[2J' }],
      ['preferred_username', { email: undefined, preferred_username: 'ada@example.com\u0000' }],
      ['upn', { email: undefined, upn: 'ada\u000d@example.com' }],
    ])('refuses a control character in %s with invalid_token 400', async (claim, claims) => {
      await expectRefused(
        claims,
        400,
        'invalid_token',
        new RegExp(`^The token's ${claim} claim must not contain control characters\\.$`),
      );
    });
  });
});
