import type {
  FindOrCreateUserInput,
  FindOrCreateUserResult,
  UserRecord,
  UserStore,
} from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { identityFromParts, inIdentityOrder } from '../internal/identities.js';
import { addToList, type KeyvContext } from './context.js';
import { enqueue } from './outbox.js';

export async function readUser(
  { get, key }: KeyvContext,
  deadlineAt: number,
  userId: string,
): Promise<UserRecord | undefined> {
  const user = await get<UserRecord>(deadlineAt, key.user(userId));
  return user && storeKit.withUserDefaults(user);
}

/** Removes a user, its email entry and the identity links listed for it. */
export async function removeUser(context: KeyvContext, deadlineAt: number, user: UserRecord): Promise<void> {
  const { get, remove, key } = context;
  // The user first: links left behind by an interruption name a missing user, which
  // findOrCreateUser treats as no link.
  await remove(deadlineAt, key.user(user.userId));
  const emailKey = key.email(user.orgId, user.email);
  if ((await get<string>(deadlineAt, emailKey)) === user.userId) await remove(deadlineAt, emailKey);
  for (const identityKey of (await get<string[]>(deadlineAt, key.userIdentities(user.userId))) ?? []) {
    if ((await get<string>(deadlineAt, identityKey)) === user.userId) await remove(deadlineAt, identityKey);
  }
  await remove(deadlineAt, key.userIdentities(user.userId));
}

/**
 * Users under their id, with identity and email entries naming them. Writes that read and rewrite
 * a user are serialized per key within this process (see keyvStore for what that leaves between
 * processes).
 */
export function keyvUsers(context: KeyvContext): UserStore {
  const { key, run, get, set, withLocks } = context;

  /** The slow path of findOrCreateUser, under the locks of the identity and the email. */
  async function createOrLinkUser(
    deadlineAt: number,
    input: FindOrCreateUserInput,
    identityKey: string,
  ): Promise<FindOrCreateUserResult> {
    // Read again under the lock: a caller that held it before may have created the link. A link or
    // email entry naming a deleted user counts as absent.
    const linkedId = await get<string>(deadlineAt, identityKey);
    const linked = linkedId === undefined ? undefined : await readUser(context, deadlineAt, linkedId);
    if (linked) return { outcome: 'existing', user: linked };

    const sameEmailId = await get<string>(deadlineAt, key.email(input.orgId, input.email));
    const sameEmail =
      sameEmailId === undefined ? undefined : await readUser(context, deadlineAt, sameEmailId);
    if (sameEmail) {
      if (!storeKit.mayLinkWithinScope(sameEmail, input)) return { outcome: 'conflict' };
      // Claimed first, under the user's own lock (a verification change rewrites it too): cut short,
      // the retry finds the user claimed by this registration and links.
      const linkedUser = storeKit.claimedByLink(sameEmail, input)
        ? await withLocks([key.user(sameEmail.userId)], async () => {
            const current = (await readUser(context, deadlineAt, sameEmail.userId)) ?? sameEmail;
            const claimed = storeKit.claimedByLink(current, input);
            if (claimed) await set(deadlineAt, key.user(current.userId), claimed);
            return claimed ?? current;
          })
        : sameEmail;
      await set(deadlineAt, identityKey, sameEmail.userId);
      await addToList(context, deadlineAt, key.userIdentities(sameEmail.userId), identityKey);
      return { outcome: 'linked', user: linkedUser };
    }
    if (input.mayCreate === false) return { outcome: 'not_provisioned' };

    const user = input.newUser;
    // User, then identity, then email: cut short, a retry of the same identity still finds its
    // user, and nobody else is refused or linked because of a half-created one.
    await set(deadlineAt, key.user(user.userId), user);
    await set(deadlineAt, identityKey, user.userId);
    await set(deadlineAt, key.email(input.orgId, input.email), user.userId);
    await set(deadlineAt, key.userIdentities(user.userId), [identityKey]);
    await addToList(context, deadlineAt, key.orgUsers(input.orgId), user.userId);
    await enqueue(context, deadlineAt, input.eventsIfCreated ?? []);
    return { outcome: 'created', user };
  }

  return {
    findOrCreateUser: (input) =>
      run(async (deadlineAt) => {
        const identityKey = key.identity(input.orgId, input.iss, input.sub, input.subjectClaim);
        const linkedId = await get<string>(deadlineAt, identityKey);
        // A link or email entry naming a deleted user counts as absent.
        const linked = linkedId === undefined ? undefined : await readUser(context, deadlineAt, linkedId);
        if (linked) return { outcome: 'existing', user: linked };
        const emailKey = key.email(input.orgId, input.email);
        return withLocks([identityKey, emailKey], () => createOrLinkUser(deadlineAt, input, identityKey));
      }),

    listUsers: ({ orgId, query, after, limit }) =>
      run(async (deadlineAt) => {
        const userIds = (await get<string[]>(deadlineAt, key.orgUsers(orgId))) ?? [];
        const users = await Promise.all(userIds.map((userId) => readUser(context, deadlineAt, userId)));
        const matching = users.filter(
          (user): user is UserRecord =>
            user?.orgId === orgId &&
            storeKit.isAfterPosition(user.createdAt, user.userId, after) &&
            storeKit.matchesUserQuery(user, query),
        );
        return storeKit.sortedBy(matching, storeKit.newestUserFirst).slice(0, limit);
      }),

    getUser: (orgId, userId) =>
      run(async (deadlineAt) => {
        const user = await readUser(context, deadlineAt, userId);
        return user && user.orgId === orgId ? user : null;
      }),

    getUserById: (userId) => run(async (deadlineAt) => (await readUser(context, deadlineAt, userId)) ?? null),

    updateUserVerification: (input) =>
      run((deadlineAt) =>
        withLocks([key.user(input.userId)], async () => {
          const user = await readUser(context, deadlineAt, input.userId);
          if (!user || user.orgId !== input.orgId) return { outcome: 'not_found' } as const;
          if (!storeKit.sameVerification(user, input.expected)) {
            return { outcome: 'stale', user } as const;
          }
          const updated: UserRecord = { ...user, ...input.next, updatedAt: input.now };
          await set(deadlineAt, key.user(input.userId), updated);
          await enqueue(context, deadlineAt, input.events);
          return { outcome: 'updated', user: updated } as const;
        }),
      ),

    createUser: ({ user, events }) =>
      run((deadlineAt) => {
        const emailKey = key.email(user.orgId, user.email);
        return withLocks([emailKey], async () => {
          const takenBy = await get<string>(deadlineAt, emailKey);
          if (takenBy !== undefined && (await readUser(context, deadlineAt, takenBy)))
            return 'email_taken' as const;
          await set(deadlineAt, key.user(user.userId), user);
          await set(deadlineAt, emailKey, user.userId);
          await addToList(context, deadlineAt, key.orgUsers(user.orgId), user.userId);
          await enqueue(context, deadlineAt, events);
          return 'created' as const;
        });
      }),

    deleteUser: ({ orgId, userId, events }) =>
      run(async (deadlineAt) => {
        const user = await readUser(context, deadlineAt, userId);
        if (!user || user.orgId !== orgId) return false;
        await removeUser(context, deadlineAt, user);
        await enqueue(context, deadlineAt, events);
        return true;
      }),

    setUserRole: ({ orgId, userId, role, now }) =>
      run((deadlineAt) =>
        withLocks([key.user(userId)], async () => {
          const user = await readUser(context, deadlineAt, userId);
          if (!user || user.orgId !== orgId) return null;
          const updated: UserRecord = { ...user, role, updatedAt: now };
          await set(deadlineAt, key.user(userId), updated);
          return updated;
        }),
      ),

    // Links written before `userIdentities` existed are not listed (see the key layout).
    listIdentities: (orgId, userId) =>
      run(async (deadlineAt) => {
        const user = await readUser(context, deadlineAt, userId);
        if (!user || user.orgId !== orgId) return [];
        const identities = [];
        for (const identityKey of new Set(
          (await get<string[]>(deadlineAt, key.userIdentities(userId))) ?? [],
        )) {
          if ((await get<string>(deadlineAt, identityKey)) === userId)
            identities.push(identityFromParts(key.identityParts(identityKey)));
        }
        return inIdentityOrder(identities);
      }),
  };
}
