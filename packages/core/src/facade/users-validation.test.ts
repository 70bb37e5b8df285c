import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterEach, expect, it } from 'vitest';
import { createRialtoExchange, type RialtoExchange } from '../index.js';

let exchange: RialtoExchange | undefined;
afterEach(async () => {
  await exchange?.close();
});

// Fails before: exchange.users.update stored any string as a KYC or accreditation status, where
// PATCH /identity/users/:id refuses it; the console's forms call this function.
it('refuses a verification status the route refuses, naming the field, and changes nothing', async () => {
  exchange = createRialtoExchange({
    issuer: 'http://localhost:3000',
    store: memoryStore(),
    adminToken: 'admin-token-0123456789',
    allowInsecureIssuers: true,
    allowPrivateIssuers: true,
    allowedAudiences: [],
    logger: false,
    webhooks: { worker: false },
  });
  const { organization } = await exchange.organizations.register({
    name: 'Acme',
    issuer: 'http://127.0.0.1:9/idp',
  });
  const user = await exchange.users.create(organization.orgId, { email: 'ada@example.com' });
  const refused = await exchange.users
    .update(organization.orgId, user.userId, { kycStatus: 'bogus' as 'approved' })
    .then(
      () => expect.unreachable('resolved'),
      (error: { code: string; description: string }) => ({
        code: error.code,
        description: error.description,
      }),
    );
  expect(refused.code).toBe('invalid_request');
  expect(refused.description).toMatch(/^kyc_status: /);
  expect((await exchange.users.get(organization.orgId, user.userId))?.kycStatus).toBe('not_started');
  // A valid change still goes through.
  expect(
    (await exchange.users.update(organization.orgId, user.userId, { kycStatus: 'approved' })).kycStatus,
  ).toBe('approved');
});
