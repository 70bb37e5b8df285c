import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

let idp: LocalIssuer;
let other: LocalIssuer;
beforeAll(async () => {
  [idp, other] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
});
afterAll(async () => {
  await Promise.all([idp.close(), other.close()]);
});

describe('changing an issuer subject_claim from oid to sub', () => {
  it("never lands a token whose sub equals an old user's oid in that user's account", async () => {
    const t = createTestApp();
    const admin = (method: 'post' | 'get' | 'delete', path: string) =>
      request(t.app)[method](path).set('authorization', `Bearer ${ADMIN_TOKEN}`);
    const { orgId, apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: other.issuer });
    const added = await admin('post', `/identity/organizations/${orgId}/issuers`).send({
      issuer: idp.issuer,
      subject_claim: 'oid',
      email_linking: 'never',
    });
    expect(added.status).toBe(201);
    const victimOid = '00000000-0000-0000-0000-00000000a11c';
    const signIn = async (claims: Record<string, unknown>) =>
      exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer, claims)) });
    const victim = await signIn({ sub: 'pairwise-alice', oid: victimOid, email: 'alice@example.com' });
    expect(victim.status).toBe(200);
    const victimId = decodeJwt(victim.body.access_token).user_id;

    // The only way to change subject_claim today: remove the registration and register again.
    expect(
      (await admin('delete', `/identity/organizations/${orgId}/issuers/${added.body.issuer_id}`)).status,
    ).toBe(200);
    const readded = await admin('post', `/identity/organizations/${orgId}/issuers`).send({
      issuer: idp.issuer,
      subject_claim: 'sub',
      email_linking: 'never',
    });
    expect(readded.status).toBe(201);

    const attacker = await signIn({ sub: victimOid, email: 'mallory@example.com' });
    expect(attacker.status).toBe(200);
    const attackerClaims = decodeJwt(attacker.body.access_token);
    expect(attackerClaims.user_id).not.toBe(victimId);
    expect(attackerClaims.email).toBe('mallory@example.com');
  });
});
