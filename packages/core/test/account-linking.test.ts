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
    const { apiKey, orgId } = await registerOrganization(t.app, {
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
    const victimUserId = decodeJwt(victim.body.access_token).user_id as string;
    const victimBefore = await t.store.getUser(orgId, victimUserId);
    /** The attacker's identity is not on the victim's user, and the victim's record is unchanged. */
    async function expectVictimUntouched(response: Awaited<ReturnType<typeof attempt>>) {
      if (response.status === 200) {
        const attacker = decodeJwt(response.body.access_token);
        expect(attacker.user_id).not.toBe(victimUserId);
        expect(attacker.email).not.toBe(victimBefore?.email);
      } else {
        expectFailsWith(response, 409, 'account_conflict');
        expect(t.store.writes).toEqual(['findOrCreateUser']);
      }
      expect(await t.store.getUser(orgId, victimUserId)).toEqual(victimBefore);
      // The victim still signs in to the same user.
      const victimSignsIn = await exchange(t.app, apiKey, {
        token: await idp.sign(idTokenClaims(idp.issuer, { sub: 'victim', email: 'victim@example.com' })),
      });
      expect(decodeJwt(victimSignsIn.body.access_token).user_id).toBe(victimUserId);
    }
    return { t, victimUserId, attempt, expectVictimUntouched };
  }

  describe('takeovers from issue 11', () => {
    it.each(['unless_unverified', 'verified'])(
      'reads email_verified "false" (a string) as false under %s',
      async (policy) => {
        const { attempt, expectVictimUntouched } = await orgWithVictim(policy);
        const response = await attempt({ email: 'victim@example.com', email_verified: 'false' });
        expectFailsWith(response, 409, 'account_conflict');
        await expectVictimUntouched(response);
      },
    );

    it.each([
      ['preferred_username', 'verified'],
      ['upn', 'verified'],
      ['preferred_username', 'unless_unverified'],
      ['upn', 'unless_unverified'],
    ])(
      'never links through an email taken from %s under %s, even beside email_verified true',
      async (claim, policy) => {
        const { attempt, expectVictimUntouched } = await orgWithVictim(policy);
        const response = await attempt({
          email: undefined,
          email_verified: true,
          [claim]: 'victim@example.com',
        });
        expectFailsWith(response, 409, 'account_conflict');
        await expectVictimUntouched(response);
      },
    );

    it('does not fold U+212A KELVIN SIGN into k: the look-alike address gets its own user', async () => {
      const t = createTestApp();
      const { apiKey, orgId } = await registerOrganization(t.app, {
        name: 'Acme',
        issuer: idp.issuer,
        email_linking: 'unless_unverified',
      });
      const signIn = async (sub: string, email: string) =>
        exchange(t.app, apiKey, {
          token: await idp.sign(idTokenClaims(idp.issuer, { sub, email, email_verified: true })),
        });
      const kate = decodeJwt((await signIn('kate', 'kate@corp.example')).body.access_token);
      const kateBefore = await t.store.getUser(orgId, kate.user_id as string);
      const response = await signIn('attacker', '\u212Aate@corp.example');
      expect(response.status).toBe(200);
      const attacker = decodeJwt(response.body.access_token);
      expect(attacker.user_id).not.toBe(kate.user_id);
      expect(attacker.email).toBe('\u212Aate@corp.example');
      expect(await t.store.getUser(orgId, kate.user_id as string)).toEqual(kateBefore);
    });
  });

  it('defaults new organizations to the verified policy: an absent email_verified does not link', async () => {
    const { attempt, expectVictimUntouched } = await orgWithVictim();
    const response = await attempt({ email: 'victim@example.com', email_verified: undefined });
    expectFailsWith(response, 409, 'account_conflict');
    await expectVictimUntouched(response);
  });

  it.each([null, 0, 'no', 'FALSE', ''])(
    "reads email_verified %j as unverified, not as absent, under 'unless_unverified'",
    async (claimed) => {
      const { attempt, expectVictimUntouched } = await orgWithVictim('unless_unverified');
      const response = await attempt({ email: 'victim@example.com', email_verified: claimed });
      expectFailsWith(response, 409, 'account_conflict');
      await expectVictimUntouched(response);
    },
  );

  it('reads email_verified "true" (a string) as true', async () => {
    const { victimUserId, attempt } = await orgWithVictim('verified');
    const response = await attempt({ email: 'victim@example.com', email_verified: 'true' });
    expect(decodeJwt(response.body.access_token).user_id).toBe(victimUserId);
  });

  it("counts Azure AD's xms_edov true as verified when email_verified is absent, never over an explicit false", async () => {
    const { victimUserId, attempt } = await orgWithVictim('verified');
    const refused = await attempt({ email: 'victim@example.com', email_verified: false, xms_edov: true });
    expectFailsWith(refused, 409, 'account_conflict');
    const linked = await attempt({ email: 'victim@example.com', email_verified: undefined, xms_edov: true });
    expect(decodeJwt(linked.body.access_token).user_id).toBe(victimUserId);
  });

  it('lets preferred_username name a new user when no user has that email', async () => {
    const { victimUserId, attempt } = await orgWithVictim('verified');
    const response = await attempt({ email: undefined, preferred_username: 'newcomer@example.com' });
    expect(response.status).toBe(200);
    const newcomer = decodeJwt(response.body.access_token);
    expect(newcomer.user_id).not.toBe(victimUserId);
    expect(newcomer.email).toBe('newcomer@example.com');
  });

  it('refuses an unverified copy of an existing email with account_conflict 409 and writes no link', async () => {
    const { t, attempt } = await orgWithVictim();
    const response = await attempt({ email: 'victim@example.com', email_verified: false });
    expectFailsWith(response, 409, 'account_conflict');
    expect(await t.store.countUsers()).toBe(1);
    // The refused identity stays unlinked: a later verified attempt is what links it, not this one.
    const retry = await attempt({ email: 'victim@example.com', email_verified: false });
    expect(retry.status).toBe(409);
  });

  it('links a verified identity with the same email, whatever its ASCII case or surrounding spaces', async () => {
    const { victimUserId, attempt } = await orgWithVictim();
    const response = await attempt({ email: '  VICTIM@example.COM ', email_verified: true });
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token).user_id).toBe(victimUserId);
  });

  it("links an identity whose IdP omits email_verified under the 'unless_unverified' policy", async () => {
    const { victimUserId, attempt } = await orgWithVictim('unless_unverified');
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

  it('keeps composed and decomposed Unicode spellings apart, as the IdP does', async () => {
    const t = createTestApp();
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const signIn = async (sub: string, email: string) =>
      exchange(t.app, apiKey, { token: await idp.sign(idTokenClaims(idp.issuer, { sub, email })) });
    const composed = await signIn('first', 'jos\u00e9@example.com');
    const decomposed = await signIn('second', 'jose\u0301@example.com');
    expect(decodeJwt(decomposed.body.access_token).user_id).not.toBe(
      decodeJwt(composed.body.access_token).user_id,
    );
    expect(decodeJwt(composed.body.access_token).email).toBe('jos\u00e9@example.com');
    expect(decodeJwt(decomposed.body.access_token).email).toBe('jose\u0301@example.com');
  });
});
