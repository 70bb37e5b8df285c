import { randomUUID } from 'node:crypto';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterEach, describe, expect, it } from 'vitest';
import { createRialtoExchange, type RialtoExchange, type RialtoExchangeOptions } from '../index.js';

// An IP literal with nothing listening: discovery fails fast, and registering it fetches nothing.
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
    adminToken: 'admin-token-0123456789',
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

async function rejection(promise: Promise<unknown>) {
  const error = (await promise.then(
    () => expect.unreachable('resolved'),
    (reason: unknown) => reason,
  )) as { code: string; description: string };
  return { code: error.code, description: error.description };
}

describe('exchange.operators', () => {
  it('admits sign-in attempts from an address until its per-address budget is spent', () => {
    const exchange = createExchange({ rateLimit: { perIp: { limit: 2, windowSeconds: 60 } } });
    exchange.operators.admitSignInAttempt('203.0.113.9');
    exchange.operators.admitSignInAttempt('203.0.113.9');
    expect(() => exchange.operators.admitSignInAttempt('203.0.113.9')).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        description: expect.stringMatching(/^Too many requests from this client address\. Retry in \d+ s\.$/),
      }),
    );
    // Another address has its own budget; an unknown address is not limited.
    exchange.operators.admitSignInAttempt('203.0.113.10');
    exchange.operators.admitSignInAttempt(undefined);
  });

  it('explains a token for an organization as its API key would, writing nothing', async () => {
    const exchange = createExchange();
    const { organization } = await exchange.organizations.register({ name: 'Acme', issuer: ISSUER });
    const explanation = await exchange.operators.explain(organization.orgId, 'not-a-jwt');
    expect(explanation.would_succeed).toBe(false);
    expect(explanation.steps[0]).toEqual({
      step: 'api_key',
      result: 'pass',
      seen: { org_id: organization.orgId },
    });
    const failing = explanation.steps.find((step) => step.result === 'fail');
    expect(failing).toMatchObject({ step: 'token_shape', fix: expect.any(String) });
    expect(explanation.error).toEqual({ ...failing?.error, status: failing?.error?.status });
    expect((await exchange.users.list(organization.orgId)).items).toEqual([]);
  });

  it.each([randomUUID(), 'not-a-uuid'])(
    'answers not_found when explaining for the organization %s',
    async (orgId) => {
      const exchange = createExchange();
      expect(await rejection(exchange.operators.explain(orgId, 'not-a-jwt'))).toEqual({
        code: 'not_found',
        description: 'No such organization.',
      });
    },
  );

  it("reports why a registered issuer's discovery document could not be used, and refuses an unknown registration", async () => {
    const exchange = createExchange();
    const { organization, issuer } = await exchange.organizations.register({ name: 'Acme', issuer: ISSUER });
    const check = await exchange.operators.checkIssuerDiscovery(organization.orgId, issuer.registrationId);
    expect(check).toEqual({ found: false, reason: expect.stringMatching(/.+/) });
    expect(
      await rejection(exchange.operators.checkIssuerDiscovery(organization.orgId, randomUUID())),
    ).toEqual({
      code: 'not_found',
      description: 'No such issuer registration in this organization.',
    });
  });
});
