import { redisStore } from '@rialto-exchange/storage-adapters';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { disposableStore } from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, REDIS_URL } from '../../storage-adapters/test/services.js';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  SERVICE_ISSUER,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';
import { bindAccessToken, type DpopKey, dpopKey } from './oauth-helpers.js';

/**
 * DPoP-bound access tokens (RFC 9449 §7) at the service's own access-token routes. The bound token
 * is the exchange's own, re-signed with `cnf.jkt` by the service's key, as the token endpoint mints it.
 */
describe('DPoP-bound access tokens at the service’s own routes', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let key: DpopKey;
  let accessToken: string;
  let bound: string;
  let userPath: string;
  let userUrl: string;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    key = await dpopKey();
  });
  afterAll(() => idp.close());

  beforeEach(async () => {
    t = createTestApp();
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer, audience: [] });
    const signedIn = await exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer)) });
    accessToken = signedIn.body.access_token;
    bound = await bindAccessToken(t.store, accessToken, key.jkt);
    userPath = `/identity/users/${decodeJwt(accessToken).user_id}`;
    userUrl = `${SERVICE_ISSUER}${userPath}`;
  });

  const getUser = (headers: Record<string, string>) => request(t.app).get(userPath).set(headers);

  it('accepts a bound token as Authorization: DPoP with a proof of its key for this request', async () => {
    const response = await getUser({
      authorization: `DPoP ${bound}`,
      dpop: await key.proof('GET', userUrl, bound),
    });
    expect(response.status).toBe(200);
    expect(response.body.user_id).toBe(decodeJwt(accessToken).user_id);
  });

  it('keeps accepting unbound tokens as Bearer', async () => {
    expect((await getUser({ authorization: `Bearer ${accessToken}` })).status).toBe(200);
  });

  it('refuses a bound token sent as Bearer: 401 with WWW-Authenticate: DPoP error="invalid_token"', async () => {
    const response = await getUser({ authorization: `Bearer ${bound}` });
    expectFailsWith(response, 401, 'invalid_access_token', /bound to a DPoP key/);
    expect(response.headers['www-authenticate']).toMatch(/^DPoP realm="rialto", error="invalid_token"/);
    expect(response.headers['www-authenticate']).toMatch(/algs="[^"]*ES256/);
  });

  it('refuses a bound token without a proof, or with a proof for another URL, method or token: 401 invalid_dpop_proof', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ authorization: `DPoP ${bound}` }, /required/],
      [
        {
          authorization: `DPoP ${bound}`,
          dpop: await key.proof('GET', `${SERVICE_ISSUER}/elsewhere`, bound),
        },
        /htu/,
      ],
      [{ authorization: `DPoP ${bound}`, dpop: await key.proof('POST', userUrl, bound) }, /htm/],
      [{ authorization: `DPoP ${bound}`, dpop: await key.proof('GET', userUrl, accessToken) }, /ath/],
      [{ authorization: `DPoP ${bound}`, dpop: 'not-a-jwt' }, /compact/],
    ];
    for (const [headers, description] of cases) {
      const response = await getUser(headers);
      expectFailsWith(response, 401, 'invalid_dpop_proof', description);
      expect(response.headers['www-authenticate']).toMatch(
        /^DPoP realm="rialto", error="invalid_dpop_proof"/,
      );
    }
  });

  it('refuses a proof built with the Host header instead of the published URL', async () => {
    // The request reaches the service at another host; the proof names what the client saw.
    const response = await getUser({
      authorization: `DPoP ${bound}`,
      dpop: await key.proof('GET', `http://attacker.example${userPath}`, bound),
      host: 'attacker.example',
    });
    expectFailsWith(response, 401, 'invalid_dpop_proof', /htu/);
  });

  it('refuses a replayed proof: 401 invalid_dpop_proof', async () => {
    const headers = { authorization: `DPoP ${bound}`, dpop: await key.proof('GET', userUrl, bound) };
    expect((await getUser(headers)).status).toBe(200);
    expectFailsWith(await getUser(headers), 401, 'invalid_dpop_proof', /already used/);
  });

  it("refuses a proof of another key than the token's: 401 invalid_access_token with a DPoP challenge", async () => {
    const other = await dpopKey();
    const response = await getUser({
      authorization: `DPoP ${bound}`,
      dpop: await other.proof('GET', userUrl, bound),
    });
    expectFailsWith(response, 401, 'invalid_access_token', /another key/);
    expect(response.headers['www-authenticate']).toMatch(/^DPoP realm="rialto", error="invalid_token"/);
  });

  it('refuses an unbound token sent as DPoP, and a DPoP proof sent with Bearer: 401 invalid_access_token', async () => {
    const asDpop = await getUser({
      authorization: `DPoP ${accessToken}`,
      dpop: await key.proof('GET', userUrl, accessToken),
    });
    expectFailsWith(asDpop, 401, 'invalid_access_token', /not bound/);
    expect(asDpop.headers['www-authenticate']).toMatch(/^DPoP /);
    const proofWithBearer = await getUser({
      authorization: `Bearer ${accessToken}`,
      dpop: await key.proof('GET', userUrl, accessToken),
    });
    expectFailsWith(proofWithBearer, 401, 'invalid_access_token', /Bearer scheme/);
  });

  it('answers a bad token sent with the DPoP scheme with a DPoP challenge', async () => {
    const response = await getUser({
      authorization: `DPoP ${bound}x`,
      dpop: await key.proof('GET', userUrl, `${bound}x`),
    });
    expectFailsWith(response, 401, 'invalid_access_token');
    expect(response.headers['www-authenticate']).toMatch(/^DPoP realm="rialto", error="invalid_token"/);
  });
});

describe('a DPoP proof replayed to a second instance sharing Redis', async () => {
  if (!(await isServiceUp('redis', REDIS_URL))) return;

  it('is refused by the second instance: the jti is spent in the shared store', async () => {
    const idp = await startLocalIssuer();
    const backing = disposableStore('redis');
    const second = redisStore({ url: REDIS_URL }, { keyPrefix: backing.prefix?.keyPrefix as string });
    try {
      const first = createTestApp({ store: recordingStore(backing.store) });
      const other = createTestApp({ store: recordingStore(second) });
      const { apiKey } = await registerOrganization(first.app, {
        name: 'Acme',
        issuer: idp.issuer,
        audience: [],
      });
      const signedIn = await exchange(first.app, apiKey, {
        token: await idp.sign(idTokenClaims(idp.issuer)),
      });
      const key = await dpopKey();
      const bound = await bindAccessToken(backing.store, signedIn.body.access_token, key.jkt);
      const path = `/identity/users/${decodeJwt(bound).user_id}`;
      const headers = {
        authorization: `DPoP ${bound}`,
        dpop: await key.proof('GET', `${SERVICE_ISSUER}${path}`, bound),
      };

      expect((await request(first.app).get(path).set(headers)).status).toBe(200);
      const replayed = await request(other.app).get(path).set(headers);
      expectFailsWith(replayed, 401, 'invalid_dpop_proof', /already used/);
      // The second instance does serve the same token with a fresh proof.
      const fresh = { ...headers, dpop: await key.proof('GET', `${SERVICE_ISSUER}${path}`, bound) };
      expect((await request(other.app).get(path).set(fresh)).status).toBe(200);
    } finally {
      await second.close();
      await backing.dispose();
      await idp.close();
    }
  });
});
