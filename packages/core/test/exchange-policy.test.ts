import type { ExchangePolicyHook, ExchangePolicyHookInput, RialtoEventMap } from '@rialto-exchange/core';
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
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

const CONDITION = 'claims.hd == "partner.example" && "staff" in claims.groups';
const MAPPINGS = { department: 'claims.department', tier: '"gold"' };

function patchIssuer(t: TestApp, orgId: string, issuerId: string, body: object) {
  return request(t.app).patch(`/identity/organizations/${orgId}/issuers/${issuerId}`).set(admin).send(body);
}

function explain(t: TestApp, apiKey: string, body: unknown) {
  return request(t.app)
    .post('/identity/auth/exchange/explain')
    .set('content-type', 'application/json')
    .set('x-api-key', apiKey)
    .send(JSON.stringify(body));
}

async function registerWithPolicy(t: TestApp, idp: LocalIssuer, policy: Record<string, unknown>) {
  const response = await request(t.app)
    .post('/identity/organizations')
    .set(admin)
    .send({ name: 'Partner', issuer: idp.issuer, ...policy });
  expect(response.status).toBe(201);
  return {
    orgId: response.body.org_id as string,
    apiKey: response.body.api_key as string,
    issuerId: response.body.issuer_id as string,
  };
}

const staff = { hd: 'partner.example', groups: ['staff', 'eng'], department: 'Research' };

describe('issuer registration with an exchange policy', () => {
  let idp: LocalIssuer;
  let t: TestApp;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    t = createTestApp();
  });
  afterAll(() => idp.close());

  it('stores condition and claim_mappings as policy version 1, shown on every answer', async () => {
    const response = await request(t.app)
      .post('/identity/organizations')
      .set(admin)
      .send({ name: 'Partner', issuer: idp.issuer, condition: CONDITION, claim_mappings: MAPPINGS });

    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      condition: CONDITION,
      claim_mappings: MAPPINGS,
      policy_version: 1,
    });
    const listed = await request(t.app)
      .get(`/identity/organizations/${response.body.org_id}/issuers`)
      .set(admin);
    expect(listed.body.issuers).toEqual([
      expect.objectContaining({ condition: CONDITION, claim_mappings: MAPPINGS, policy_version: 1 }),
    ]);
  });

  it('refuses a mapping to a claim the exchange owns, and registers nothing', async () => {
    const other = await startLocalIssuer();
    t.store.resetWrites();
    const response = await request(t.app)
      .post('/identity/organizations')
      .set(admin)
      .send({ name: 'Partner', issuer: other.issuer, claim_mappings: { org_id: '"spoofed"' } });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      'claim_mappings.org_id: is a claim the exchange sets itself',
    );
    expect(t.store.writes).toEqual([]);
    await other.close();
  });

  it('refuses a condition that does not compile, with the line and column of the error', async () => {
    const response = await request(t.app)
      .post(`/identity/organizations`)
      .set(admin)
      .send({ name: 'Partner', issuer: idp.issuer, condition: 'claims.hd ==\n  "a" &&& true' });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      /^condition: syntax error: .*\(line 2, column \d+\)\.$/,
    );
  });

  it('refuses a policy whose estimated cost exceeds the limit', async () => {
    const response = await request(t.app).post('/identity/organizations').set(admin).send({
      name: 'Partner',
      issuer: idp.issuer,
      condition: 'claims.groups.all(g, claims.groups.exists(h, g + h == "x"))',
    });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      /^condition: its estimated worst-case cost of [\d,]+ units exceeds the policy limit of 1,000,000; nested comprehensions over claims are the usual cause \(line 1, column \d+\)\.$/,
    );
  });
});

describe('PATCH /identity/organizations/{org_id}/issuers/{issuer_id}', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let org: { orgId: string; apiKey: string; issuerId: string };
  const changes: RialtoEventMap['organization.issuer_policy_changed'][] = [];

  beforeAll(async () => {
    idp = await startLocalIssuer();
    t = createTestApp();
    t.router.exchange.audit.on('organization.issuer_policy_changed', (event) => {
      changes.push(event);
    });
    org = await registerWithPolicy(t, idp, { condition: CONDITION, claim_mappings: MAPPINGS });
  });
  afterAll(() => idp.close());

  it('changes the policy as the next version and audits what changed and who changed it', async () => {
    const response = await patchIssuer(t, org.orgId, org.issuerId, {
      condition: 'claims.hd == "partner.example"',
      claim_mappings: { tier: '"silver"', team: 'claims.groups' },
    });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      issuer_id: org.issuerId,
      condition: 'claims.hd == "partner.example"',
      claim_mappings: { tier: '"silver"', team: 'claims.groups' },
      policy_version: 2,
    });
    expect(changes).toEqual([
      {
        orgId: org.orgId,
        registrationId: org.issuerId,
        issuer: idp.issuer,
        version: 2,
        changes: {
          condition: { before: CONDITION, after: 'claims.hd == "partner.example"' },
          claimMappings: { added: ['team'], removed: ['department'], changed: ['tier'] },
        },
        changedBy: 'admin_api',
      },
    ]);
  });

  it('the facade changes it too, audited as the host; null removes a field and an absent one stays', async () => {
    const updated = await t.router.exchange.issuers.updatePolicy(org.orgId, org.issuerId, {
      condition: null,
    });

    expect(updated.policy).toEqual({
      condition: null,
      claimMappings: { tier: '"silver"', team: 'claims.groups' },
      linkScope: 'issuer',
      version: 3,
    });
    expect(changes.at(-1)).toMatchObject({
      version: 3,
      changedBy: 'host',
      changes: { condition: { after: null } },
    });
  });

  it('refuses a change that does not compile, naming the position, and writes nothing', async () => {
    t.store.resetWrites();
    const response = await patchIssuer(t, org.orgId, org.issuerId, { claim_mappings: { team: 'claims.(' } });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      /^claim_mappings\.team: syntax error: .*\(line 1, column \d+\)\.$/,
    );
    expect(t.store.writes).toEqual([]);
  });

  it('refuses a mapping to a reserved claim name', async () => {
    const response = await patchIssuer(t, org.orgId, org.issuerId, {
      claim_mappings: { email: 'claims.email' },
    });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      'claim_mappings.email: is a claim the exchange sets itself',
    );
  });

  it('refuses a body naming no field', async () => {
    const response = await patchIssuer(t, org.orgId, org.issuerId, {});

    expectFailsWith(
      response,
      400,
      'invalid_request',
      'give condition, claim_mappings, link_scope or a combination',
    );
  });

  it('answers 404 for a registration the organization does not have', async () => {
    const response = await patchIssuer(t, org.orgId, '00000000-0000-4000-8000-000000000000', {
      condition: 'true',
    });

    expectFailsWith(response, 404, 'not_found', 'No such issuer registration.');
  });
});

describe('the exchange under an issuer policy', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let org: { orgId: string; apiKey: string; issuerId: string };

  beforeAll(async () => {
    idp = await startLocalIssuer();
    t = createTestApp();
    org = await registerWithPolicy(t, idp, { condition: CONDITION, claim_mappings: MAPPINGS });
  });
  afterAll(() => idp.close());

  const tokenOf = (claims: Record<string, unknown>) => idp.sign(idTokenClaims(idp.issuer, claims));

  it('admits an identity the condition holds for, with the mapped claims in the access token', async () => {
    const response = await exchange(t.app, org.apiKey, {
      token: await tokenOf({ ...staff, sub: 'admitted' }),
    });

    expect(response.status).toBe(200);
    const claims = decodeJwt(response.body.access_token);
    expect(claims).toMatchObject({ department: 'Research', tier: 'gold', org_id: org.orgId });
  });

  it('refuses one it is false for with 403 access_denied naming the version, and writes nothing', async () => {
    t.store.resetWrites();
    const response = await exchange(t.app, org.apiKey, {
      token: await tokenOf({ ...staff, sub: 'refused', hd: 'elsewhere.example' }),
    });

    expectFailsWith(
      response,
      403,
      'access_denied',
      'Policy version 1 of this issuer refused the identity: its condition is false for this identity.',
    );
    expect(t.store.writes).toEqual([]);
  });

  it('refuses one the condition cannot be evaluated for (claims.groups absent), without quoting a claim', async () => {
    const response = await exchange(t.app, org.apiKey, {
      token: await tokenOf({ hd: 'partner.example', sub: 'no-groups' }),
    });

    expectFailsWith(
      response,
      403,
      'access_denied',
      'Policy version 1 of this issuer refused the identity: its condition could not be evaluated (evaluation failed: a claim or key it reads is absent), which denies.',
    );
  });

  it('leaves out a mapping that fails and mints the rest', async () => {
    const response = await exchange(t.app, org.apiKey, {
      token: await tokenOf({ hd: 'partner.example', groups: ['staff'], sub: 'no-department' }),
    });

    expect(response.status).toBe(200);
    const claims = decodeJwt(response.body.access_token);
    expect(claims.tier).toBe('gold');
    expect(claims).not.toHaveProperty('department');
  });

  it('uses a changed policy at once on this instance', async () => {
    const patched = await patchIssuer(t, org.orgId, org.issuerId, {
      condition: 'claims.hd == "elsewhere.example"',
    });
    expect(patched.status).toBe(200);

    const refused = await exchange(t.app, org.apiKey, {
      token: await tokenOf({ ...staff, sub: 'after-change' }),
    });

    expectFailsWith(refused, 403, 'access_denied', /^Policy version 2 of this issuer refused the identity/);
  });
});

describe('the exchange policy hook', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let org: { orgId: string; apiKey: string; issuerId: string };
  const calls: Omit<ExchangePolicyHookInput, 'signal'>[] = [];
  const logged: unknown[] = [];
  let behaviour: 'allow' | 'deny' | 'slow' | 'throw' = 'allow';

  const hook: ExchangePolicyHook = async ({ signal, ...input }) => {
    calls.push(input);
    if (behaviour === 'deny') return { deny: 'Partner accounts of this tier are closed.' };
    if (behaviour === 'throw') throw new Error('entitlement database password=hunter2 refused');
    if (behaviour === 'slow') {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      return undefined;
    }
    return { claims: { entitled: true, returning: input.user !== null } };
  };

  beforeAll(async () => {
    idp = await startLocalIssuer();
    t = createTestApp({
      exchangePolicyHook: hook,
      exchangePolicyHookTimeoutMs: 200,
      logger: {
        debug() {},
        info() {},
        warn() {},
        error: (...args: unknown[]) => {
          logged.push(args);
        },
      },
    });
    org = await registerWithPolicy(t, idp, { claim_mappings: { tier: '"gold"' } });
  });
  afterAll(() => idp.close());

  const tokenOf = (claims: Record<string, unknown>) => idp.sign(idTokenClaims(idp.issuer, claims));

  it('is given the verified claims, the org, the issuer and no user on a first exchange, and adds claims', async () => {
    behaviour = 'allow';
    calls.length = 0;
    const first = await exchange(t.app, org.apiKey, { token: await tokenOf({ sub: 'hooked' }) });
    const second = await exchange(t.app, org.apiKey, { token: await tokenOf({ sub: 'hooked' }) });

    expect(first.status).toBe(200);
    expect(decodeJwt(first.body.access_token)).toMatchObject({
      tier: 'gold',
      entitled: true,
      returning: false,
    });
    expect(decodeJwt(second.body.access_token)).toMatchObject({ returning: true });
    expect(calls[0]).toMatchObject({
      claims: expect.objectContaining({ sub: 'hooked', iss: idp.issuer }),
      org: { id: org.orgId, name: 'Partner' },
      issuer: idp.issuer,
      user: null,
      dryRun: false,
    });
    expect(calls[1]?.user).toMatchObject({ userId: decodeJwt(first.body.access_token).user_id });
  });

  it('denies with its reason as 403 access_denied, before anything is written', async () => {
    behaviour = 'deny';
    t.store.resetWrites();
    const response = await exchange(t.app, org.apiKey, { token: await tokenOf({ sub: 'denied-by-hook' }) });

    expectFailsWith(
      response,
      403,
      'access_denied',
      'The exchange policy hook refused the identity: Partner accounts of this tier are closed.',
    );
    expect(t.store.writes).toEqual([]);
  });

  it('past its deadline answers 503 with Retry-After, never hangs, and writes nothing', async () => {
    behaviour = 'slow';
    t.store.resetWrites();
    const response = await exchange(t.app, org.apiKey, { token: await tokenOf({ sub: 'slow-hook' }) });

    expectFailsWith(
      response,
      503,
      'temporarily_unavailable',
      'The exchange policy did not answer in time. Retry later.',
    );
    expect(response.headers['retry-after']).toBe('1');
    expect(t.store.writes).toEqual([]);
  });

  it('throwing answers 500 with the cause logged, never sent', async () => {
    behaviour = 'throw';
    logged.length = 0;
    const response = await exchange(t.app, org.apiKey, { token: await tokenOf({ sub: 'throwing-hook' }) });

    expectFailsWith(response, 500, 'server_error', 'An unexpected error occurred.');
    expect(JSON.stringify(response.body)).not.toContain('hunter2');
    expect(
      JSON.stringify(logged, (_key, value) =>
        value instanceof Error ? `${value.message} ${String(value.cause)}` : value,
      ),
    ).toContain('entitlement database');
  });

  it('is called with dryRun by the debugger, which shows its outcome and writes nothing', async () => {
    behaviour = 'allow';
    calls.length = 0;
    t.store.resetWrites();
    const response = await explain(t, org.apiKey, { token: await tokenOf({ sub: 'explained-hook' }) });

    expect(response.status).toBe(200);
    expect(calls).toEqual([expect.objectContaining({ dryRun: true, user: null })]);
    expect(response.body.steps.find((step: { step: string }) => step.step === 'policy')).toEqual({
      step: 'policy',
      result: 'pass',
      seen: {
        policy_version: 1,
        dry_run: true,
        condition_result: 'none',
        mapped_claims: { tier: 'gold' },
        mapping_errors: [],
        hook: 'allowed',
        custom_claims: { tier: 'gold', entitled: true, returning: false },
      },
    });
    expect(t.store.writes).toEqual([]);
  });
});

describe('the debugger shows the policy', () => {
  let idp: LocalIssuer;
  let t: TestApp;
  let org: { orgId: string; apiKey: string; issuerId: string };

  beforeAll(async () => {
    idp = await startLocalIssuer();
    t = createTestApp();
    org = await registerWithPolicy(t, idp, { condition: CONDITION, claim_mappings: MAPPINGS });
  });
  afterAll(() => idp.close());

  const tokenOf = (claims: Record<string, unknown>) => idp.sign(idTokenClaims(idp.issuer, claims));
  const policyStepOf = (body: { steps: { step: string }[] }) =>
    body.steps.find((step) => step.step === 'policy');

  it('reports a refusing condition, what the mappings would yield and why one was left out', async () => {
    t.store.resetWrites();
    const response = await explain(t, org.apiKey, {
      token: await tokenOf({ hd: 'elsewhere.example', groups: ['staff'] }),
    });

    expect(response.status).toBe(200);
    expect(response.body.would_succeed).toBe(false);
    expect(response.body.error).toEqual({
      error: 'access_denied',
      error_description:
        'Policy version 1 of this issuer refused the identity: its condition is false for this identity.',
      status: 403,
    });
    expect(policyStepOf(response.body)).toMatchObject({
      result: 'fail',
      seen: {
        policy_version: 1,
        condition_result: 'false',
        mapped_claims: { tier: 'gold' },
        mapping_errors: [
          {
            claim: 'department',
            reason: 'evaluation failed: a claim or key it reads is absent',
            position: expect.any(Object),
          },
        ],
        hook: 'none',
      },
      fix: expect.stringContaining('policy'),
    });
    expect(t.store.writes).toEqual([]);
  });

  it('evaluates a draft policy sent in the request instead of the stored one, saving nothing', async () => {
    const response = await explain(t, org.apiKey, {
      token: await tokenOf({ hd: 'elsewhere.example', groups: ['staff'] }),
      policy: { condition: 'claims.hd.endsWith(".example")', claim_mappings: { domain: 'claims.hd' } },
    });

    expect(response.body.would_succeed).toBe(true);
    expect(policyStepOf(response.body)).toMatchObject({
      result: 'pass',
      seen: {
        policy_version: 'draft',
        condition_result: 'true',
        mapped_claims: { domain: 'elsewhere.example' },
      },
    });
    const listed = await request(t.app).get(`/identity/organizations/${org.orgId}/issuers`).set(admin);
    expect(listed.body.issuers[0]).toMatchObject({ condition: CONDITION, policy_version: 1 });
  });

  it('answers 400 invalid_request with the position for a draft that does not compile', async () => {
    const response = await explain(t, org.apiKey, {
      token: await tokenOf(staff),
      policy: { condition: 'claims.hd ==' },
    });

    expectFailsWith(
      response,
      400,
      'invalid_request',
      /^condition: syntax error: .*\(line 1, column \d+\)\.$/,
    );
  });
});
