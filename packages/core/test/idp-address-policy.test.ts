import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FetchTarget, request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

// The default description: nothing about the upstream failure reaches the client.
const DISCOVERY_FAILED = /^The issuer's OpenID configuration or key set could not be retrieved\.$/;

// A public address no test ever reaches: the host-supplied fetch below answers for it, as a
// corporate proxy would.
const PUBLIC_ISSUER = 'https://93.184.215.14';

let idp: LocalIssuer;
beforeAll(async () => {
  idp = await startLocalIssuer();
});
afterAll(() => idp.close());
beforeEach(() => {
  idp.counts = { discovery: 0, jwks: 0, other: 0 };
});

function register(app: FetchTarget, issuer: string) {
  return request(app)
    .post('/identity/organizations')
    .set('authorization', `Bearer ${ADMIN_TOKEN}`)
    .send({ name: 'Acme', issuer });
}

describe('issuer registration with private IdP addresses refused', () => {
  it.each([
    ['a private IPv4 literal', 'https://10.0.0.1', 'loopback or private'],
    ['a unique-local IPv6 literal', 'https://[fd00::1]', 'loopback or private'],
    ['an IPv4-mapped private literal', 'https://[::ffff:192.168.1.10]', 'loopback or private'],
    ['a loopback name', 'https://localhost:8443', 'loopback or private'],
    ['the loopback IdP of the other tests', 'LOCAL', 'loopback or private'],
    ['the metadata service', 'http://169.254.169.254/latest/meta-data', 'never'],
    ['the IPv6 metadata service', 'https://[fd00:ec2::254]', 'never'],
    ['a NAT64 form of the metadata service', 'https://[64:ff9b::a9fe:a9fe]', 'never'],
  ])('refuses %s with invalid_request 400, writing nothing', async (_, raw, kind) => {
    const t = createTestApp({ allowPrivateIssuers: false });
    const issuer = raw === 'LOCAL' ? idp.issuer.replace('127.0.0.1', 'localhost') : raw;
    const response = await register(t.app, issuer);
    expectFailsWith(
      response,
      400,
      'invalid_request',
      kind === 'never'
        ? /^The issuer must not point to a (link-local|metadata) address\.$/
        : /^The issuer must resolve to public addresses, not a (loopback|private) one \(allowPrivateIssuers is off\)\.$/,
    );
    expect(t.store.writes).toEqual([]);
    expect(idp.counts).toEqual({ discovery: 0, jwks: 0, other: 0 });
  });

  it('refuses metadata addresses even with allowPrivateIssuers on', async () => {
    const t = createTestApp({ allowPrivateIssuers: true });
    for (const issuer of [
      'http://169.254.169.254',
      'https://[fd00:ec2::254]',
      'https://[::ffff:a9fe:a9fe]',
    ]) {
      expectFailsWith(
        await register(t.app, issuer),
        400,
        'invalid_request',
        /^The issuer must not point to a (link-local|metadata) address\.$/,
      );
    }
    expect(t.store.writes).toEqual([]);
  });
});

describe('discovery and JWKS fetches with private IdP addresses refused', () => {
  it('refuses at fetch time an issuer the store already holds on loopback: 502, nothing fetched or written', async () => {
    const store = recordingStore();
    const localhostIssuer = idp.issuer.replace('127.0.0.1', 'localhost');
    // Registered by an instance that allowed it (or before the name moved to a private address).
    const lenient = createTestApp({ store, allowPrivateIssuers: true });
    const { apiKey } = await registerOrganization(lenient.app, { name: 'Acme', issuer: localhostIssuer });
    const strict = createTestApp({ store, allowPrivateIssuers: false });
    store.resetWrites();

    const token = await idp.sign(idTokenClaims(localhostIssuer));
    expectFailsWith(await exchange(strict.app, apiKey, { token }), 502, 'discovery_failed', DISCOVERY_FAILED);
    expect(idp.counts).toEqual({ discovery: 0, jwks: 0, other: 0 });
    expect(store.writes).toEqual([]);

    // Where loopback IdPs are allowed the same org reaches its IdP: only the policy refused it
    // (the local IdP announces its 127.0.0.1 issuer, hence invalid_issuer there).
    expectFailsWith(await exchange(lenient.app, apiKey, { token }), 401, 'invalid_issuer');
    expect(idp.counts.discovery).toBe(1);
  });

  describe('through a host-supplied fetch (a proxy)', () => {
    const requested: string[] = [];
    let jwksUri = `${PUBLIC_ISSUER}/jwks`;
    const proxyFetch = async (input: string, init: RequestInit) => {
      requested.push(input);
      if (input === `${PUBLIC_ISSUER}/.well-known/openid-configuration`) {
        return Response.json({ issuer: PUBLIC_ISSUER, jwks_uri: jwksUri });
      }
      if (input === `${PUBLIC_ISSUER}/jwks`) return fetch(`${idp.issuer}/jwks`, init);
      return new Response('not found', { status: 404 });
    };
    beforeEach(() => {
      requested.length = 0;
      jwksUri = `${PUBLIC_ISSUER}/jwks`;
    });

    it('verifies tokens of a public issuer with the check on', async () => {
      const t = createTestApp({ allowPrivateIssuers: false, fetch: proxyFetch });
      const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: PUBLIC_ISSUER });
      const response = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(PUBLIC_ISSUER)) });
      expect(response.status).toBe(200);
      expect(requested).toEqual([
        `${PUBLIC_ISSUER}/.well-known/openid-configuration`,
        `${PUBLIC_ISSUER}/jwks`,
      ]);
    });

    it.each([
      'http://localhost:8080/jwks',
      'https://10.0.0.1/jwks',
      'https://[fd00::1]/jwks',
      'https://[::ffff:127.0.0.1]/jwks',
      'https://169.254.169.254/jwks',
    ])('refuses a jwks_uri of %s with 502 discovery_failed, without requesting it', async (privateUri) => {
      jwksUri = privateUri;
      const t = createTestApp({ allowPrivateIssuers: false, fetch: proxyFetch });
      const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: PUBLIC_ISSUER });
      t.store.resetWrites();
      const response = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(PUBLIC_ISSUER)) });
      expectFailsWith(response, 502, 'discovery_failed', DISCOVERY_FAILED);
      expect(requested).toEqual([`${PUBLIC_ISSUER}/.well-known/openid-configuration`]);
      expect(t.store.writes).toEqual([]);
    });
  });
});
