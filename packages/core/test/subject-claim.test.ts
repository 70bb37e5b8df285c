import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

const REFUSED_LOCALE =
  'subject_claim: "locale" is not a claim identity providers define as a stable, unique user identifier (sub, oid); two people sharing its value would become one user. Set unsafe_subject_claim: true only if the IdP guarantees it is unique and never reassigned.';
const LOCALE_WARNING =
  'subject_claim "locale" is not a claim identity providers define as a stable, unique user identifier (sub, oid): two people sharing its value become one user. Use one of those unless the IdP guarantees "locale" is unique and never reassigned.';

let idp: LocalIssuer;
let other: LocalIssuer;
beforeAll(async () => {
  [idp, other] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
});
afterAll(async () => {
  await Promise.all([idp.close(), other.close()]);
});

const admin = (t: ReturnType<typeof createTestApp>) => ({
  post: (path: string) => request(t.app).post(path).set('authorization', `Bearer ${ADMIN_TOKEN}`),
  get: (path: string) => request(t.app).get(path).set('authorization', `Bearer ${ADMIN_TOKEN}`),
});

describe('subject_claim allow-list', () => {
  it('refuses subject_claim "locale" (two people with locale en-US would become one user), writing nothing', async () => {
    const t = createTestApp();
    const response = await admin(t)
      .post('/identity/organizations')
      .send({ name: 'Acme', issuer: idp.issuer, client_ids: ['partner-app'], subject_claim: 'locale' });
    expectFailsWith(response, 400, 'invalid_request', REFUSED_LOCALE);
    expect(t.store.writes).toEqual([]);

    const { orgId } = await registerOrganization(t.app, { name: 'Globex', issuer: other.issuer });
    t.store.resetWrites();
    const added = await admin(t)
      .post(`/identity/organizations/${orgId}/issuers`)
      .send({ issuer: idp.issuer, subject_claim: 'locale' });
    expectFailsWith(added, 400, 'invalid_request', REFUSED_LOCALE);
    expect(t.store.writes).toEqual([]);
  });

  it('accepts sub and oid without a warning', async () => {
    const t = createTestApp();
    const response = await admin(t)
      .post('/identity/organizations')
      .send({ name: 'Acme', issuer: idp.issuer, client_ids: ['partner-app'], subject_claim: 'oid' });
    expect(response.status).toBe(201);
    expect(response.body.subject_claim).toBe('oid');
    expect(response.body.warnings).toBeUndefined();
  });

  it('accepts another claim with unsafe_subject_claim: true, warning when registered and whenever read', async () => {
    const t = createTestApp();
    const { orgId } = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: other.issuer,
      client_ids: ['partner-app'],
    });
    const added = await admin(t)
      .post(`/identity/organizations/${orgId}/issuers`)
      .send({
        issuer: idp.issuer,
        client_ids: ['partner-app'],
        subject_claim: 'locale',
        unsafe_subject_claim: true,
      });
    expect(added.status).toBe(201);
    expect(added.body.warnings).toEqual([LOCALE_WARNING]);
    const listed = await admin(t).get(`/identity/organizations/${orgId}/issuers`);
    expect(listed.status).toBe(200);
    // Both were registered within the same second: the listing's order between them is the ids'.
    const warningsByIssuer = Object.fromEntries(
      listed.body.issuers.map((issuer: { issuer: string; warnings?: string[] }) => [
        issuer.issuer,
        issuer.warnings,
      ]),
    );
    expect(warningsByIssuer).toStrictEqual({ [other.issuer]: undefined, [idp.issuer]: [LOCALE_WARNING] });
  });

  it('keeps a stored registration on an unsafe claim working, unchanged, reported on read and once in the log', async () => {
    const warned: Array<{ fields: object; message: string }> = [];
    const logger = {
      debug() {},
      info() {},
      warn: (fields: object, message?: string) => void warned.push({ fields, message: String(message) }),
      error() {},
    };
    const t = createTestApp({ logger });
    const { orgId, apiKey } = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: other.issuer,
      client_ids: ['partner-app'],
    });
    // As a registration made before the allow-list existed is stored.
    const now = Math.floor(Date.now() / 1000);
    const registrationId = randomUUID();
    await t.store.addIssuerRegistration({
      registrationId,
      orgId,
      issuer: idp.issuer,
      clientIds: ['partner-app'],
      allowedAlgorithms: ['RS256'],
      emailLinking: 'verified',
      subjectClaim: 'locale',
      trustUsernameClaims: false,
      createdAt: now,
      updatedAt: now,
    });
    const signIn = async () =>
      exchange(t.app, apiKey, {
        token: await idp.sign(idTokenClaims(idp.issuer, { locale: 'fr-FR', email: 'ada@example.com' })),
      });
    const first = await signIn();
    expect(first.status).toBe(200);
    const second = await signIn();
    expect(second.status).toBe(200);
    expect(decodeJwt(second.body.access_token).user_id).toBe(decodeJwt(first.body.access_token).user_id);
    expect(warned.filter(({ message }) => message === LOCALE_WARNING)).toEqual([
      { fields: { orgId, registrationId, subjectClaim: 'locale' }, message: LOCALE_WARNING },
    ]);
    const listed = await admin(t).get(`/identity/organizations/${orgId}/issuers`);
    const stored = listed.body.issuers.find(
      (issuer: { issuer_id: string }) => issuer.issuer_id === registrationId,
    );
    expect(stored).toMatchObject({ subject_claim: 'locale', warnings: [LOCALE_WARNING] });
  });
});
