import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

describe('linking a new identity to an existing user by email', () => {
  let idp: LocalIssuer;
  beforeAll(async () => {
    idp = await startLocalIssuer();
  });
  afterAll(() => idp.close());

  async function orgWithVictim(emailLinking?: string) {
    const t = createTestApp();
    const { apiKey } = await registerOrganization(t.app, {
      name: 'Acme',
      issuer: idp.issuer,
      ...(emailLinking ? { email_linking: emailLinking } : {}),
    });
    const victim = await exchange(t.app, apiKey, {
      token: await idp.sign(idTokenClaims(idp.issuer, { sub: 'victim', email: 'Victim@Example.com' })),
    });
    expect(victim.status).toBe(200);
    t.store.resetWrites();
    const attempt = async (claims: Record<string, unknown>) =>
      exchange(t.app, apiKey, {
        token: await idp.sign(idTokenClaims(idp.issuer, { sub: 'newcomer', ...claims })),
      });
    return { t, victimUserId: decodeJwt(victim.body.access_token).user_id, attempt };
  }

  it('refuses an unverified copy of an existing email with account_conflict 409 and writes no link', async () => {
    const { t, attempt } = await orgWithVictim();
    const response = await attempt({ email: 'victim@example.com', email_verified: false });
    expectFailsWith(response, 409, 'account_conflict');
    expect(await t.store.countUsers()).toBe(1);
    // The refused identity stays unlinked: a later verified attempt is what links it, not this one.
    const retry = await attempt({ email: 'victim@example.com', email_verified: false });
    expect(retry.status).toBe(409);
  });

  it('links a verified identity with the same email, whatever its case or Unicode form', async () => {
    const { victimUserId, attempt } = await orgWithVictim();
    const response = await attempt({ email: '  VICTIM@example.COM ', email_verified: true });
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token).user_id).toBe(victimUserId);
  });

  it('links an identity whose IdP omits email_verified under the default policy', async () => {
    const { victimUserId, attempt } = await orgWithVictim();
    const response = await attempt({ email: 'victim@example.com', email_verified: undefined });
    expect(decodeJwt(response.body.access_token).user_id).toBe(victimUserId);
  });

  it("requires email_verified true under the 'verified' policy", async () => {
    const { attempt } = await orgWithVictim('verified');
    expectFailsWith(
      await attempt({ email: 'victim@example.com', email_verified: undefined }),
      409,
      'account_conflict',
    );
    expect((await attempt({ email: 'victim@example.com', email_verified: true })).status).toBe(200);
  });

  it("never links under the 'never' policy", async () => {
    const { attempt } = await orgWithVictim('never');
    expectFailsWith(
      await attempt({ email: 'victim@example.com', email_verified: true }),
      409,
      'account_conflict',
    );
  });

  it('treats composed and decomposed Unicode spellings as one mailbox', async () => {
    const t = createTestApp();
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const signIn = async (sub: string, email: string) =>
      exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer, { sub, email })) });
    const composed = await signIn('first', 'jos\u00e9@example.com');
    const decomposed = await signIn('second', 'jose\u0301@example.com');
    expect(decodeJwt(decomposed.body.access_token).user_id).toBe(
      decodeJwt(composed.body.access_token).user_id,
    );
    expect(decodeJwt(composed.body.access_token).email).toBe('jos\u00e9@example.com');
  });
});
