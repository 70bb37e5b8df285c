/**
 * `runStoreConformance`: the behaviour every `Store` must have, as a vitest suite to run against your own adapter.
 * @packageDocumentation
 * @module @rialto-exchange/storage-adapters/conformance
 */
import { describe } from 'vitest';
import { describeApiKeys } from './api-keys.js';
import { describeConcurrency } from './concurrency.js';
import { describeConsoleSessions } from './console-sessions.js';
import { describeConsumeOnce } from './consume-once.js';
import { createSuiteContext } from './context.js';
import { describeIssuerPolicies } from './issuer-policies.js';
import { describeIssuerRegistrations } from './issuer-registrations.js';
import { describeLifecycle } from './lifecycle.js';
import { describeLinkScopes } from './link-scopes.js';
import { describeListingOrder } from './listing-order.js';
import { describeListings } from './listings.js';
import { describeMigrateAndClose } from './migrate-and-close.js';
import { describeOrganizations } from './organizations.js';
import { describeOutbox } from './outbox.js';
import { describeOutboxBacklog } from './outbox-backlog.js';
import { describeRateLimits } from './rate-limits.js';
import { describeRedelivery } from './redelivery.js';
import { describeRefreshFamilies } from './refresh-families.js';
import { describeRefreshTokens } from './refresh-tokens.js';
import { describeSigningKeys } from './signing-keys.js';
import type { ConformanceGuarantee, MakeStore, StoreConformanceOptions } from './types.js';
import { describeUserIdentities } from './user-identities.js';
import { describeUserRoles } from './user-roles.js';
import { describeUsers } from './users.js';
import { describeWebhookSubscriptions } from './webhooks.js';

export type { ConformanceGuarantee, MakeStore, StoreConformanceOptions, StoreUnderTest } from './types.js';

const GUARANTEES: ReadonlySet<string> = new Set<ConformanceGuarantee>([
  'concurrentCreateOrganization',
  'concurrentIssuerRegistration',
  'concurrentAddApiKey',
  'concurrentFindOrCreate',
  'concurrentEmailLinking',
  'concurrentRotate',
  'concurrentConsumeOnce',
  'concurrentEnsureSigningKey',
  'concurrentUserVerification',
  'concurrentWebhookClaim',
  'concurrentCreateUser',
]);

/**
 * Declares the vitest suite every `Store` must pass: each method's contract, copy semantics,
 * `migrate()` and `close()`, and
 * races that several instances sharing one backend would run (50 first exchanges of one person at
 * once, 20 uses of one refresh token (with and without a retry grace window), 10 instances starting on an empty store, 2 delivery workers
 * claiming from one outbox, ...).
 *
 * Call it at the top level of a test file. `makeStore` is called once per test and must return a
 * store that shares nothing with the others (its own key prefix, table prefix, schema or file) so
 * each test starts empty; its `cleanup` runs when the test finishes. Run it against the real
 * backend: a mock proves nothing about atomicity.
 *
 * An adapter that cannot give a guarantee under concurrency declares it in `options.skip` with the
 * reason; those cases are reported as skipped, with the reason in their name, and the reason is
 * printed when the suite is collected. Everything else still runs.
 *
 * Imported from `@rialto-exchange/storage-adapters/conformance`, which needs `vitest` installed; the
 * main entry point never loads it.
 *
 * @example
 * // my-store.conformance.test.ts
 * import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
 *
 * runStoreConformance('myStore', async () => {
 *   const prefix = `test:${crypto.randomUUID()}:`;
 *   const store = myStore({ prefix });
 *   return { store, cleanup: () => dropEverythingUnder(prefix) };
 * });
 */
export function runStoreConformance(
  name: string,
  makeStore: MakeStore,
  options: StoreConformanceOptions = {},
): void {
  const skip = options.skip ?? {};
  const unknown = Object.keys(skip).filter((guarantee) => !GUARANTEES.has(guarantee));
  if (unknown.length > 0) {
    throw new TypeError(
      `runStoreConformance: unknown guarantee(s) in \`skip\`: ${unknown.join(', ')}; expected one of ${[...GUARANTEES].join(', ')}`,
    );
  }
  for (const [guarantee, reason] of Object.entries(skip)) {
    if (typeof reason !== 'string' || reason.trim() === '') {
      throw new TypeError(
        `runStoreConformance: \`skip.${guarantee}\` must say why the guarantee cannot be given`,
      );
    }
    console.warn(`[${name}] store conformance: skipping ${guarantee}: ${reason}`);
  }

  const context = createSuiteContext(makeStore, skip);
  describe(`${name} conforms to the Store contract`, () => {
    describeOrganizations(context);
    describeIssuerRegistrations(context);
    describeIssuerPolicies(context);
    describeApiKeys(context);
    describeUsers(context);
    describeLinkScopes(context);
    describeUserRoles(context);
    describeUserIdentities(context);
    describeLifecycle(context);
    describeRefreshTokens(context);
    describeRefreshFamilies(context);
    describeConsumeOnce(context);
    describeRateLimits(context);
    describeSigningKeys(context);
    describeWebhookSubscriptions(context);
    describeOutbox(context);
    describeOutboxBacklog(context);
    describeListingOrder(context);
    describeListings(context);
    describeRedelivery(context);
    describeConsoleSessions(context);
    describeConcurrency(context);
    describeMigrateAndClose(context);
  });
}
