import { randomUUID } from 'node:crypto';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterEach, describe, expect, it } from 'vitest';
import { createRialtoExchange, type RialtoExchange, type RialtoExchangeOptions } from '../index.js';

const ADMIN_TOKEN = 'admin-token-0123456789';
// An IP literal: registering it resolves nothing, and nothing is fetched from it.
const ISSUER = 'http://127.0.0.1:9/idp';

let exchanges: RialtoExchange[] = [];
afterEach(async () => {
  await Promise.all(exchanges.map((exchange) => exchange.close()));
  exchanges = [];
});

function createExchange(options: Partial<RialtoExchangeOptions> = {}): RialtoExchange {
  const exchange = createRialtoExchange({
    issuer: 'http://localhost:3000',
    store: memoryStore(),
    adminToken: ADMIN_TOKEN,
    allowInsecureIssuers: true,
    allowPrivateIssuers: true,
    allowedAudiences: [],
    logger: false,
    webhooks: { worker: false },
    ...options,
  });
  exchanges.push(exchange);
  return exchange;
}

/** The error a call rejects with, as its route would answer it; rejects, never throws synchronously. */
async function refusal(call: () => Promise<unknown>): Promise<{ code: string; description: string }> {
  let pending: Promise<unknown> | undefined;
  expect(() => {
    pending = call();
  }).not.toThrow();
  const error = await (pending as Promise<unknown>).then(
    () => expect.unreachable('resolved'),
    (reason: unknown) => reason,
  );
  const { code, description } = error as { code: string; description: string };
  return { code, description };
}

const NO_SUCH_ORGANIZATION = { code: 'not_found', description: 'No such organization.' };
const NO_SUCH_USER = { code: 'not_found', description: 'No such user in your organization.' };
const MISSING_IDS = [randomUUID(), 'not-a-uuid'];

async function registered(exchange: RialtoExchange) {
  return exchange.organizations.register({ name: 'Acme', issuer: ISSUER });
}

/** What the HTTP route answers for the same call, to show both refuse alike. */
async function routeAnswer(exchange: RialtoExchange, method: string, path: string, body?: unknown) {
  const response = await exchange.handle({
    method,
    path,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response) return expect.unreachable(`${method} ${path} is not a route`);
  const { error, error_description } = response.body as { error: string; error_description: string };
  return { code: error, description: error_description };
}

describe('exchange.organizations', () => {
  it('registers as POST /identity/organizations does, refusing what it refuses with the same error', async () => {
    const exchange = createExchange();
    const body = { name: '', issuer: ISSUER };
    const expected = await routeAnswer(exchange, 'POST', '/identity/organizations', body);
    expect(expected.code).toBe('invalid_request');
    expect(await refusal(() => exchange.organizations.register(body))).toEqual(expected);

    const { organization, apiKey } = await registered(exchange);
    expect(apiKey).toMatch(new RegExp(`^rialto_ak_${organization.orgId}_`));
    expect(await exchange.organizations.get(organization.orgId)).toEqual(organization);
  });

  it('gets null for an organization that does not exist', async () => {
    const exchange = createExchange();
    for (const orgId of MISSING_IDS) expect(await exchange.organizations.get(orgId)).toBeNull();
  });

  it('suspends and resumes, sets provisioning and audiences, and removes', async () => {
    const exchange = createExchange({ allowedAudiences: ['primary-issuance'] });
    const { organization } = await registered(exchange);
    const { orgId } = organization;
    expect((await exchange.organizations.suspend(orgId)).suspendedAt).toEqual(expect.any(Number));
    expect((await exchange.organizations.resume(orgId)).suspendedAt).toBeNull();
    expect((await exchange.organizations.setProvisioning(orgId, 'link_only')).provisioning).toBe('link_only');
    // The host is the service admin: the allow-list binds partners' keys only.
    expect((await exchange.organizations.setAudience(orgId, ['custom'])).audience).toEqual([
      'identity',
      'custom',
    ]);
    await exchange.organizations.remove(orgId);
    expect(await exchange.organizations.get(orgId)).toBeNull();
  });

  it.each(MISSING_IDS)('answers not_found for the organization %s, as the routes do', async (orgId) => {
    const exchange = createExchange();
    const { organizations } = exchange;
    for (const call of [
      () => organizations.suspend(orgId),
      () => organizations.resume(orgId),
      () => organizations.setProvisioning(orgId, 'create'),
      () => organizations.setAudience(orgId, ['identity']),
      () => organizations.remove(orgId),
    ]) {
      expect(await refusal(call)).toEqual(NO_SUCH_ORGANIZATION);
    }
    expect(await routeAnswer(exchange, 'DELETE', `/identity/organizations/${orgId}`)).toEqual(
      NO_SUCH_ORGANIZATION,
    );
  });

  it('refuses a provisioning mode or audience the routes refuse, naming the field', async () => {
    const exchange = createExchange();
    const { organization } = await registered(exchange);
    const { orgId } = organization;
    const mode = await refusal(() => exchange.organizations.setProvisioning(orgId, 'sometimes' as 'create'));
    expect(mode).toEqual(
      await routeAnswer(exchange, 'PATCH', `/identity/organizations/${orgId}`, { provisioning: 'sometimes' }),
    );
    expect(mode.description).toMatch(/^provisioning: /);
    const audience = await refusal(() => exchange.organizations.setAudience(orgId, ['has space']));
    expect(audience).toEqual(
      await routeAnswer(exchange, 'PATCH', `/identity/auth/idp/${orgId}`, { audience: ['has space'] }),
    );
    expect(audience.description).toMatch(/^audience\.0: /);
    expect((await exchange.organizations.get(orgId))?.provisioning).toBe('create');
  });
});

describe('exchange.apiKeys', () => {
  it('issues for an existing organization only, and revokes an active key once', async () => {
    const exchange = createExchange();
    const { organization, apiKeyId } = await registered(exchange);
    for (const orgId of MISSING_IDS) {
      expect(await refusal(() => exchange.apiKeys.issue(orgId))).toEqual(NO_SUCH_ORGANIZATION);
    }
    const issued = await exchange.apiKeys.issue(organization.orgId);
    expect(issued.record.orgId).toBe(organization.orgId);
    await exchange.apiKeys.revoke(organization.orgId, apiKeyId);
    const again = await refusal(() => exchange.apiKeys.revoke(organization.orgId, apiKeyId));
    expect(again).toEqual({ code: 'not_found', description: 'No such active API key in this organization.' });
    expect(again).toEqual(
      await routeAnswer(
        exchange,
        'DELETE',
        `/identity/organizations/${organization.orgId}/api-keys/${apiKeyId}`,
      ),
    );
  });
});

describe('exchange.issuers', () => {
  it('adds, lists and removes, refusing what the routes refuse', async () => {
    const exchange = createExchange();
    const { organization } = await registered(exchange);
    const { orgId } = organization;
    const body = { issuer: 'http://127.0.0.1:10/staff', subject_claim: 'email' };
    const refused = await refusal(() => exchange.issuers.add(orgId, body));
    expect(refused).toEqual(
      await routeAnswer(exchange, 'POST', `/identity/organizations/${orgId}/issuers`, body),
    );
    expect(refused.description).toMatch(/^subject_claim: /);

    const added = await exchange.issuers.add(orgId, {
      issuer: 'http://127.0.0.1:10/staff',
      client_ids: ['app'],
    });
    expect((await exchange.issuers.list(orgId)).map((issuer) => issuer.registrationId)).toContain(
      added.registrationId,
    );
    await exchange.issuers.remove(orgId, added.registrationId);
    expect(await refusal(() => exchange.issuers.remove(orgId, added.registrationId))).toEqual({
      code: 'not_found',
      description: 'No such issuer registration in this organization.',
    });
  });

  it.each(MISSING_IDS)('answers not_found for the organization %s', async (orgId) => {
    const exchange = createExchange();
    expect(await refusal(() => exchange.issuers.list(orgId))).toEqual(NO_SUCH_ORGANIZATION);
    expect(await refusal(() => exchange.issuers.add(orgId, { issuer: ISSUER }))).toEqual(
      NO_SUCH_ORGANIZATION,
    );
  });
});

describe('exchange.users', () => {
  it('creates, reads, updates, sets the role of and removes a user', async () => {
    const exchange = createExchange();
    const { organization } = await registered(exchange);
    const { orgId } = organization;
    const user = await exchange.users.create(orgId, { email: 'Ada@Example.com' });
    expect(user).toMatchObject({ orgId, email: 'ada@example.com', role: 'member' });
    expect(await exchange.users.get(orgId, user.userId)).toEqual(user);
    expect(await exchange.users.update(orgId, user.userId, { kycStatus: 'approved' })).toMatchObject({
      kycStatus: 'approved',
    });
    expect(await exchange.users.setRole(orgId, user.userId, 'org_admin')).toMatchObject({
      role: 'org_admin',
    });
    await exchange.users.remove(orgId, user.userId);
    expect(await exchange.users.get(orgId, user.userId)).toBeNull();
    expect(await refusal(() => exchange.users.remove(orgId, user.userId))).toEqual(NO_SUCH_USER);
  });

  it('refuses an input the routes refuse, naming the field, and writes nothing', async () => {
    const exchange = createExchange();
    const { organization } = await registered(exchange);
    const { orgId } = organization;
    const creation = await refusal(() => exchange.users.create(orgId, { email: 'not an email' }));
    expect(creation).toEqual(
      await routeAnswer(exchange, 'POST', '/identity/users', { org_id: orgId, email: 'not an email' }),
    );
    expect(creation.description).toMatch(/^email: /);
    const user = await exchange.users.create(orgId, { email: 'ada@example.com' });
    const role = await refusal(() => exchange.users.setRole(orgId, user.userId, 'owner' as 'member'));
    expect(role).toEqual(
      await routeAnswer(exchange, 'PUT', `/identity/users/${user.userId}/role`, { role: 'owner' }),
    );
    expect((await exchange.users.get(orgId, user.userId))?.role).toBe('member');
  });

  it.each(MISSING_IDS)(
    'answers not_found for the user %s, and for users of an unknown organization',
    async (id) => {
      const exchange = createExchange();
      const { organization } = await registered(exchange);
      const { orgId } = organization;
      expect(await exchange.users.get(orgId, id)).toBeNull();
      expect(await refusal(() => exchange.users.update(orgId, id, { onboardingCompleted: true }))).toEqual(
        NO_SUCH_USER,
      );
      expect(await refusal(() => exchange.users.setRole(orgId, id, 'member'))).toEqual(NO_SUCH_USER);
      expect(await refusal(() => exchange.users.remove(orgId, id))).toEqual(NO_SUCH_USER);
      expect(await refusal(() => exchange.users.create(id, { email: 'ada@example.com' }))).toEqual(
        NO_SUCH_ORGANIZATION,
      );
    },
  );
});

describe('exchange.keys', () => {
  it('rotates a signing key and reports it to audit listeners', async () => {
    const exchange = createExchange();
    const heard: unknown[] = [];
    exchange.audit.on('signing_key.rotated', (event) => {
      heard.push(event);
    });
    const rotated = await exchange.keys.rotate();
    expect(heard).toEqual([{ use: 'access_token', kid: rotated.kid }]);
  });
});

describe('the deprecated flat names', () => {
  it('keep their former results for what does not exist', async () => {
    const exchange = createExchange();
    const orgId = randomUUID();
    expect(await exchange.setOrganizationSuspended(orgId, true)).toBeNull();
    expect(await exchange.setOrganizationProvisioning(orgId, 'create')).toBeNull();
    expect(await exchange.deleteOrganization(orgId)).toBe(false);
    expect(await exchange.revokeApiKey(orgId, randomUUID())).toBe(false);
    expect(await exchange.removeIssuer(orgId, randomUUID())).toBe(false);
    expect(await exchange.listIssuers(orgId)).toEqual([]);
    expect(await exchange.userLifecycle.remove(orgId, randomUUID())).toBe(false);
  });

  it('act as the grouped functions do on what exists', async () => {
    const exchange = createExchange();
    const { organization } = await exchange.registerOrganization({ name: 'Acme', issuer: ISSUER });
    expect((await exchange.setOrganizationSuspended(organization.orgId, true))?.suspendedAt).toEqual(
      expect.any(Number),
    );
    expect(await exchange.listIssuers(organization.orgId)).toEqual(
      await exchange.issuers.list(organization.orgId),
    );
    expect(await exchange.deleteOrganization(organization.orgId)).toBe(true);
  });
});
