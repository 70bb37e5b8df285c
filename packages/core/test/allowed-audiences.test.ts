import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type DisposableStore,
  disposableStore,
  SERVICE_OF,
  type StoreKind,
} from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp } from '../../storage-adapters/test/services.js';
import { request } from './client.js';
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
  type TestApp,
} from './helpers.js';

// Runs first in this file, so this process has not warned yet.
describe('the start-up warning', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('warns once, whatever the number of exchanges, when allowedAudiences is not set', () => {
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    createTestApp({ allowedAudiences: ['primary-issuance'] });
    expect(emitWarning).not.toHaveBeenCalled();

    createTestApp();
    createTestApp();

    expect(emitWarning).toHaveBeenCalledTimes(1);
    expect(emitWarning).toHaveBeenCalledWith(expect.stringContaining('`allowedAudiences` is not set'), {
      code: 'RIALTO_ANY_AUDIENCE',
    });
  });

  it('refuses an allowedAudiences that is not a list of audiences with a TypeError naming it', () => {
    expect(() => createTestApp({ allowedAudiences: ['has space'] })).toThrow(
      /`allowedAudiences\[0\]` must be an array of audiences/,
    );
    expect(() => createTestApp({ allowedAudiences: 'primary-issuance' as unknown as string[] })).toThrow(
      TypeError,
    );
  });
});

const kinds: StoreKind[] = ['memory', 'redis', 'postgres'];

describe.each(kinds)('the audience allow-list on the %s store', async (kind) => {
  const service = SERVICE_OF[kind];
  if (service && !(await isServiceUp(...service))) return;

  let idp: LocalIssuer;
  let backing: DisposableStore;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    backing = disposableStore(kind);
  });
  afterAll(async () => {
    await idp.close();
    await backing.dispose();
  });

  const setAudience = (t: TestApp, orgId: string, audience: unknown, credential: Record<string, string>) =>
    request(t.app).patch(`/identity/auth/idp/${orgId}`).set(credential).send({ audience });

  describe('with allowedAudiences set', () => {
    let t: TestApp;
    let acme: { orgId: string; apiKey: string };
    beforeAll(async () => {
      t = createTestApp({ store: recordingStore(backing.store), allowedAudiences: ['primary-issuance'] });
      // The admin registers outside the list; an existing org keeps what it has.
      acme = await registerOrganization(t.app, {
        name: 'Acme',
        issuer: idp.issuer,
        audience: ['legacy-api'],
      });
    });

    it("refuses the org's API key an audience outside the list with 400 naming it, changing nothing", async () => {
      t.store.resetWrites();
      const response = await setAudience(t, acme.orgId, ['primary-issuance', 'payments-admin'], {
        'x-api-key': acme.apiKey,
      });

      expectFailsWith(
        response,
        400,
        'invalid_request',
        'audience: "payments-admin" is not an audience this service allows.',
      );
      expect(t.store.writes).toEqual([]);
      expect((await t.store.getOrganization(acme.orgId))?.audience).toEqual(['identity', 'legacy-api']);
    });

    it('an existing audience outside the list keeps working in tokens', async () => {
      const token = await idp.sign(idTokenClaims(idp.issuer, { sub: 'legacy', email: 'legacy@example.com' }));
      const response = await exchange(t.app, acme.apiKey, { token });

      expect(response.status).toBe(200);
      expect(decodeJwt(response.body.access_token).aud).toEqual(['identity', 'legacy-api']);
    });

    it("accepts the org's API key an audience from the list, and the admin any audience", async () => {
      const partner = await setAudience(t, acme.orgId, ['primary-issuance'], { 'x-api-key': acme.apiKey });
      expect(partner.status).toBe(200);
      expect(partner.body).toEqual({ org_id: acme.orgId, audience: ['identity', 'primary-issuance'] });

      const admin = await setAudience(t, acme.orgId, ['payments-admin'], {
        authorization: `Bearer ${ADMIN_TOKEN}`,
      });
      expect(admin.status).toBe(200);
      expect(admin.body).toEqual({ org_id: acme.orgId, audience: ['identity', 'payments-admin'] });
      expect((await t.store.getOrganization(acme.orgId))?.audience).toEqual(['identity', 'payments-admin']);
    });
  });

  it("without allowedAudiences, the org's API key sets any audience, as the seeds show", async () => {
    const t = createTestApp({ store: recordingStore(backing.store) });
    const other = await startLocalIssuer();
    try {
      const org = await registerOrganization(t.app, { name: 'Seeds', issuer: other.issuer });
      const response = await setAudience(t, org.orgId, ['identity', 'primary-issuance', 'custom-scope'], {
        'x-api-key': org.apiKey,
      });

      expect(response.status).toBe(200);
      expect(response.body.audience).toEqual(['identity', 'primary-issuance', 'custom-scope']);
    } finally {
      await other.close();
    }
  });
});
