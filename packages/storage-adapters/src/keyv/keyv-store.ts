import type { Store } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import {
  parseOptions,
  positiveNumber,
  requiredBecause,
  strictOptions,
} from '@rialto-exchange/core/option-schema';
import { z } from 'zod';
import { keyvConsoleSessions } from './console-sessions.js';
import { createKeyvContext } from './context.js';
import { rekeyIdentityClaims } from './identity-claim-migration.js';
import { keyvSigningKeys } from './keys.js';
import { isUnavailable } from './keyv-errors.js';
import { keyvOrganizations } from './organizations.js';
import { keyvTokens } from './tokens.js';
import { keyvUsers } from './users.js';
import { keyvWebhooks } from './webhooks.js';

/**
 * The part of a Keyv 5 instance the store uses, so the store's types do not depend on `keyv`.
 *
 * @example
 * const keyv: KeyvLike = new Keyv({ store: new KeyvRedis(url, { throwOnErrors: true }), throwOnErrors: true });
 */
export interface KeyvLike {
  get(key: string): Promise<unknown>;
  /** `ttl` in milliseconds. */
  set(key: string, value: unknown, ttl?: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  readonly throwOnErrors: boolean;
  readonly store?: unknown;
}

const keyvStoreOptionsShape = {
  /**
   * Whether other processes use the same Keyv backend. Required, because the answer changes what
   * the store can promise: its writes are serialized per key within this process only. With
   * `false`, every guarantee of the Store contract holds. With `true`, the races listed in the
   * store's documentation remain between processes, and webhook subscriptions are refused unless
   * `acceptDuplicateWebhookDeliveries` is set.
   */
  sharedBetweenProcesses: z.boolean({
    error: requiredBecause(
      'say whether other processes use this Keyv backend (writes are serialized within one process only)',
      'must be true or false',
    ),
  }),
  /**
   * With `sharedBetweenProcesses`, allow webhook subscriptions although two processes' delivery
   * workers can claim, and so send, one delivery twice, and events recorded at once in two
   * processes can lose one another's place in the due list.
   * @default false
   */
  acceptDuplicateWebhookDeliveries: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * Deadline of every store call, its Keyv calls included; then it fails with `StoreUnavailableError`.
   * @default 5000
   */
  timeoutMs: positiveNumber().default(5_000),
};

/**
 * Settings of `keyvStore()`.
 *
 * @example
 * keyvStore(keyv, { timeoutMs: 2_000 });
 */
export interface KeyvStoreOptions extends z.input<z.ZodObject<typeof keyvStoreOptionsShape>> {}

const keyvStoreOptionsSchema = strictOptions(keyvStoreOptionsShape);

// After a call fails, calls fail at once for this long instead of each waiting out `timeoutMs`;
// then one call probes the backend while the others keep failing fast.
const FAIL_FAST_MS = 1_000;

/**
 * A Store over any Keyv 5 instance (`@keyv/redis`, `@keyv/postgres`, `@keyv/mongo`, ...), for
 * hosts that already run a Keyv backend. Within one process, writes that read and rewrite one
 * record are serialized per key, so every guarantee of the Store contract holds with
 * `sharedBetweenProcesses: false`. Prefer `redisStore()` or `sqlStore()` when several processes
 * share the backend: Keyv offers get, set and delete, but no compare-and-set and no multi-key
 * transaction, so between processes this store cannot give these guarantees:
 *
 * - Two `createOrganization` or `addIssuerRegistration` calls racing for one issuer or client id can
 *   both succeed, and racing registrations of one issuer can lose one another.
 * - Racing `addApiKey`/`revokeApiKey`, `updateOrganization`, `setUserRole` or `addSigningKey` calls
 *   on one record each read, modify and write it, so one change can be lost, a key revocation included.
 * - Racing first exchanges of one person (`findOrCreateUser`, same identity or same email) can
 *   create two users.
 * - Instances starting together on an empty backend can each store their own signing key
 *   (`ensureSigningKey`), so tokens minted by one do not verify on another until they reload keys.
 * - Webhook outbox: two workers claiming at once can both take one delivery, so it can be sent
 *   twice; events recorded at the same time can lose one another's place in the due list. Webhook
 *   subscriptions are therefore refused unless the host sets `acceptDuplicateWebhookDeliveries`.
 * - A user's verification change and its events are separate writes (the user first).
 * - `deleteUser` and `deleteOrganization` find a user's identity links and an org's users through
 *   lists this store keeps since they were added; users and links written before are not found
 *   (links left behind name a missing user, which `findOrCreateUser` treats as absent).
 * - A write interrupted by an outage can leave part of it behind. Writes are ordered so that what
 *   remains is harmless: an organization is reachable by issuer only once its key is stored, and a
 *   user by email only once its identity link is.
 * - Single-use ID tokens (`consumeOnce`, used by the `singleUseIdTokens` option) are read, then
 *   written under the in-process lock: two exchanges of one token at the same instant on two
 *   processes can both pass. One after the other, or within one process, the second is refused.
 * - Refresh tokens: rotations of one token are queued within one process, so there it rotates
 *   once; two instances rotating the same token at the same moment can both succeed, each with its
 *   own successor. Rotation writes the successor before marking the token used, so a write cut short
 *   leaves the token live rather than used without a successor.
 *
 * What it does guarantee: every single-caller behaviour of the Store contract, including the retry
 * grace window of refresh tokens; revoked families stay refused while any of their tokens can
 * live, and their markers expire after that. Records of earlier releases are upgraded when first
 * touched, except identities that registrations on a claim other than `sub` stored before
 * identities named their claim: `migrate()` (run before the first call) re-keys those once, found
 * through the lists of organizations, users and their identities (what was written before those
 * lists existed is not found). `close()` leaves the Keyv instance open: it is the host's.
 *
 * The Keyv instance must be created with `throwOnErrors: true`, and so must its adapter where it
 * has the option (`@keyv/redis` does): Keyv otherwise reports a backend failure as a missing key,
 * which would let an outage pass for "no such user" and create one. The factory refuses an
 * instance configured that way.
 *
 * @example
 * import { createKeyv } from '@keyv/redis';
 *
 * During an outage, calls fail fast: after one call fails, the others answer
 * `StoreUnavailableError` at once for a second, then one call at a time probes the backend.
 *
 * @example
 * import { createKeyv } from '@keyv/redis';
 *
 * const keyv = createKeyv(process.env.REDIS_URL, { namespace: 'rialto', throwOnErrors: true });
 * const store = keyvStore(keyv, { sharedBetweenProcesses: false });
 * app.use(rialtoExchange({ issuer: 'https://api.example.com', store }));
 */
export function keyvStore(keyv: KeyvLike, options: KeyvStoreOptions): Store {
  if (keyv?.throwOnErrors !== true) {
    throw new TypeError('keyvStore: create the Keyv instance with `throwOnErrors: true`');
  }
  if ((keyv.store as { throwOnErrors?: unknown } | undefined)?.throwOnErrors === false) {
    throw new TypeError(
      'keyvStore: create the Keyv adapter with `throwOnErrors: true` (e.g. `new KeyvRedis(url, { throwOnErrors: true })`)',
    );
  }
  const { sharedBetweenProcesses, acceptDuplicateWebhookDeliveries, timeoutMs } = parseOptions(
    keyvStoreOptionsSchema,
    options,
    'keyvStore',
  );
  const refusesWebhooks = sharedBetweenProcesses && !acceptDuplicateWebhookDeliveries;
  const runner = storeKit.createStoreRunner({
    backend: 'The Keyv backend',
    timeoutMs,
    isUnavailable,
    failFastMs: FAIL_FAST_MS,
    // Keys the identities of non-`sub` registrations stored before claim names by their claim.
    migrate: (step) => rekeyIdentityClaims(context, step),
  });
  const context = createKeyvContext(keyv, runner.run);
  return {
    ...keyvOrganizations(context),
    ...keyvUsers(context),
    ...keyvTokens(context),
    ...keyvSigningKeys(context),
    ...keyvWebhooks(context, refusesWebhooks),
    ...keyvConsoleSessions(context),
    migrate: runner.migrate,
    close: runner.close,
  };
}
