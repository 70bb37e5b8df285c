import type { FindOrCreateUserResult, UserRecord, UserStore } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { createBatcher } from '../internal/batcher.js';
import { identityFromParts, inIdentityOrder } from '../internal/identities.js';
import { parseUser } from '../internal/json-records.js';
import type { BatchItem, RedisContext } from './context.js';
import type { RedisOutbox } from './outbox.js';
import {
  CREATE_USER,
  DELETE_USER,
  FIND_OR_CREATE_USER,
  FIND_USERS_BY_IDENTITY,
  SET_USER_ROLE,
  UPDATE_USER_VERIFICATION,
} from './scripts.js';

// Calls batched into one script call (each brings 2 keys and 1 argument).
const MAX_BATCH = 100;

// Hash fields HSCAN looks at per call: a bounded amount of work per round trip.
const SCAN_COUNT = 1000;

/**
 * Users, in their org's hash with its identity and email indexes; every write of a user is one
 * script with the events it causes. The user id index (`user-org`) is written before the user and
 * removed after it.
 */
export function redisUsers(context: RedisContext, { withOutbox }: RedisOutbox): UserStore {
  const { key, run, send, script, scriptPerSlot, deleteIndexEntries } = context;

  // Nearly every exchange is a returning user: lookups that arrive together go out as one read-only
  // operation, one call per slot, and only identities it does not find take the find-or-create script.
  const findUserByIdentity = createBatcher<BatchItem, string | null>(async (lookups) => {
    const users = await run((deadlineAt) => scriptPerSlot(deadlineAt, FIND_USERS_BY_IDENTITY, lookups));
    return users.map((user) => (typeof user === 'string' ? user : null));
  }, MAX_BATCH);

  /** The identity-link fields of an org that name `userId`, by HSCAN: it never blocks Redis. */
  async function identitiesOf(deadlineAt: number, orgId: string, userId: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, entries] = (await send(deadlineAt, [
        'HSCAN',
        key.org(orgId).identities,
        cursor,
        'COUNT',
        String(SCAN_COUNT),
      ])) as [string, string[]];
      cursor = next;
      for (let index = 0; index < entries.length; index += 2) {
        if (entries[index + 1] === userId) found.push(entries[index] as string);
      }
    } while (cursor !== '0');
    return found;
  }

  return {
    async findOrCreateUser(input) {
      const keys = key.org(input.orgId);
      const identity = key.identityField(input.iss, input.sub, input.subjectClaim);
      const linked = await findUserByIdentity({ keys: [keys.identities, keys.users], args: [identity] });
      if (linked !== null) return { outcome: 'existing', user: parseUser(linked) };
      return run(async (deadlineAt): Promise<FindOrCreateUserResult> => {
        const created = input.newUser;
        const [outcome, json] = await withOutbox(
          deadlineAt,
          input.orgId,
          // Read only if the first attempt asks for a retry: the events may be built on demand.
          () => input.eventsIfCreated ?? [],
          async (outbox) => {
            // Creating is only possible with a prepared outbox; the user id index goes first.
            if (outbox.args[0] !== '-1')
              await send(deadlineAt, ['SET', key.userOrg(created.userId), input.orgId]);
            const reply = (await script(
              deadlineAt,
              FIND_OR_CREATE_USER,
              [keys.identities, keys.emails, keys.users, ...outbox.keys],
              [
                identity,
                input.email,
                `${input.mayLinkByEmail ? '1' : '0'}${input.mayCreate === false ? '0' : '1'}${input.linkWithinRegistration ? '1' : '0'}`,
                created.userId,
                JSON.stringify(created),
                input.registrationId ?? '',
                ...outbox.args,
              ],
            )) as [FindOrCreateUserResult['outcome'] | 'retry', string | null | undefined];
            return reply[0] === 'retry'
              ? 'retry'
              : (reply as [FindOrCreateUserResult['outcome'], string | null | undefined]);
          },
          // Most calls find an existing user and need no deliveries: try without the snapshot first.
          { isLazy: true },
        );
        if (outcome === 'conflict' || outcome === 'not_provisioned') return { outcome };
        if (typeof json !== 'string')
          throw new Error(`redisStore: an identity or email index points to a missing user`);
        return { outcome, user: parseUser(json) };
      });
    },

    getUser: (orgId, userId) =>
      run(async (deadlineAt) => {
        const json = await send(deadlineAt, ['HGET', key.org(orgId).users, userId]);
        if (typeof json !== 'string') return null;
        const user = parseUser(json);
        return user.orgId === orgId ? user : null;
      }),

    listUsers: ({ orgId, query, after, limit }) =>
      run(async (deadlineAt) => {
        // The org's users hash is read whole, by HSCAN (never blocking Redis): each page costs a
        // pass over the org's users, which the console's page size and search keep rare.
        // HSCAN may return a field more than once: keyed by user id.
        const matching = new Map<string, UserRecord>();
        let cursor = '0';
        do {
          const [next, entries] = (await send(deadlineAt, [
            'HSCAN',
            key.org(orgId).users,
            cursor,
            'COUNT',
            String(SCAN_COUNT),
          ])) as [string, string[]];
          cursor = next;
          for (let index = 1; index < entries.length; index += 2) {
            const user = parseUser(entries[index] as string);
            if (
              user.orgId === orgId &&
              storeKit.isAfterPosition(user.createdAt, user.userId, after) &&
              storeKit.matchesUserQuery(user, query)
            ) {
              matching.set(user.userId, user);
            }
          }
        } while (cursor !== '0');
        return storeKit.sortedBy(matching.values(), storeKit.newestUserFirst).slice(0, limit);
      }),

    getUserById: (userId) =>
      run(async (deadlineAt) => {
        const orgId = await send(deadlineAt, ['GET', key.userOrg(userId)]);
        if (typeof orgId !== 'string') return null;
        const json = await send(deadlineAt, ['HGET', key.org(orgId).users, userId]);
        return typeof json === 'string' ? parseUser(json) : null;
      }),

    updateUserVerification: (input) =>
      run(async (deadlineAt) => {
        const { expected, next } = input;
        const [outcome, json] = await withOutbox(
          deadlineAt,
          input.orgId,
          () => input.events,
          async (outbox) => {
            const reply = (await script(
              deadlineAt,
              UPDATE_USER_VERIFICATION,
              [key.org(input.orgId).users, ...outbox.keys],
              [
                input.userId,
                input.orgId,
                expected.onboardingCompleted ? '1' : '0',
                expected.kycStatus,
                expected.accreditationStatus,
                next.onboardingCompleted ? '1' : '0',
                next.kycStatus,
                next.accreditationStatus,
                String(input.now),
                ...outbox.args,
              ],
            )) as ['updated' | 'stale' | 'not_found' | 'retry', string?];
            return reply[0] === 'retry' ? 'retry' : reply;
          },
        );
        if (outcome === 'not_found') return { outcome };
        return { outcome: outcome as 'updated' | 'stale', user: parseUser(json as string) };
      }),

    createUser: ({ user, events }) =>
      run(async (deadlineAt) => {
        const keys = key.org(user.orgId);
        await send(deadlineAt, ['SET', key.userOrg(user.userId), user.orgId]);
        return withOutbox(
          deadlineAt,
          user.orgId,
          () => events,
          async (outbox) =>
            (await script(
              deadlineAt,
              CREATE_USER,
              [keys.emails, keys.users, ...outbox.keys],
              [user.email, user.userId, JSON.stringify(user), ...outbox.args],
            )) as 'created' | 'email_taken' | 'retry',
        );
      }),

    deleteUser: ({ orgId, userId, events }) =>
      run(async (deadlineAt) => {
        const keys = key.org(orgId);
        const json = await send(deadlineAt, ['HGET', keys.users, userId]);
        const user = typeof json === 'string' ? parseUser(json) : null;
        if (!user || user.orgId !== orgId) return false;
        const identities = await identitiesOf(deadlineAt, orgId, userId);
        const outcome = await withOutbox(
          deadlineAt,
          orgId,
          () => events,
          async (outbox) =>
            (await script(
              deadlineAt,
              DELETE_USER,
              [keys.users, keys.emails, keys.identities, ...outbox.keys],
              [userId, orgId, user.email, JSON.stringify(identities), ...outbox.args],
            )) as 'deleted' | 'not_found' | 'retry',
        );
        // The user id index after the user: a failure here leaves an entry naming no user.
        if (outcome === 'deleted') await deleteIndexEntries(deadlineAt, [key.userOrg(userId)]);
        return outcome === 'deleted';
      }),

    setUserRole: ({ orgId, userId, role, now }) =>
      run(async (deadlineAt) => {
        const json = await script(
          deadlineAt,
          SET_USER_ROLE,
          [key.org(orgId).users],
          [userId, orgId, role, String(now)],
        );
        return typeof json === 'string' ? parseUser(json) : null;
      }),

    listIdentities: (orgId, userId) =>
      run(async (deadlineAt) => {
        const json = await send(deadlineAt, ['HGET', key.org(orgId).users, userId]);
        if (typeof json !== 'string' || parseUser(json).orgId !== orgId) return [];
        const fields = await identitiesOf(deadlineAt, orgId, userId);
        return inIdentityOrder(fields.map((field) => identityFromParts(JSON.parse(field))));
      }),
  };
}
