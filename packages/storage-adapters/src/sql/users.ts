import type {
  FindOrCreateUserInput,
  FindOrCreateUserResult,
  ListingPosition,
  UserRecord,
  UserStore,
} from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { createBatcher } from '../internal/batcher.js';
import { inIdentityOrder } from '../internal/identities.js';
import { type SqlContext, withRetries } from './context.js';
import { userAfter, userMatches } from './listing.js';
import { emailKey, identityKey } from './lookup-keys.js';
import { flag, fromFirstSeenThrough, fromUser, toUser, verificationColumns } from './rows.js';
import { isRetryableConflict, isUniqueViolation } from './sql-errors.js';
import { insertDeliveries } from './webhooks.js';

// Identity lookups per batched statement: far below every dialect's parameter limit.
const MAX_BATCH = 100;

/**
 * Users and their identities. UNIQUE keys on the identity and on (org, email) decide every race of
 * first exchanges; the loser's next attempt reads the winner's rows.
 */
export function sqlUsers({ db, run }: SqlContext): UserStore {
  // Every exchange looks its user up by identity. Building and compiling a Kysely query costs more
  // CPU than the database round trip, so the one-identity statement is compiled once.
  const usersByIdentity = () =>
    db
      .selectFrom('identities')
      .innerJoin('users', 'users.user_id', 'identities.user_id')
      .selectAll('users')
      .select('identities.identity_key');
  const userByIdentityStatement = usersByIdentity().where('identities.identity_key', '=', '').compile();

  async function readUserByIdentity(key: string): Promise<UserRecord | null> {
    const single: typeof userByIdentityStatement = { ...userByIdentityStatement, parameters: [key] };
    const [row] = (await db.executeQuery(single)).rows;
    return row ? toUser(row) : null;
  }

  // Lookups that arrive together are one SELECT, run as one operation of the store.
  const findUsersByIdentity = createBatcher<string, UserRecord | null>(async (keys) => {
    if (keys.length === 1) return [await run(() => readUserByIdentity(keys[0] as string))];
    const rows = await run(() =>
      usersByIdentity()
        .where('identities.identity_key', 'in', [...new Set(keys)])
        .execute(),
    );
    const rowsByKey = new Map(rows.map((row) => [row.identity_key, row]));
    return keys.map((key) => {
      const row = rowsByKey.get(key);
      return row ? toUser(row) : null;
    });
  }, MAX_BATCH);

  async function readUser(orgId: string, userId: string): Promise<UserRecord | null> {
    const row = await db
      .selectFrom('users')
      .selectAll()
      .where('user_id', '=', userId)
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  /** The slow path of `findOrCreateUser`, for an identity the batched lookup did not find. */
  async function linkOrCreate(input: FindOrCreateUserInput): Promise<FindOrCreateUserResult> {
    const byIdentity = identityKey(input.orgId, input.iss, input.sub, input.subjectClaim);
    // Read again: a concurrent call may have created or linked it since, or since the last attempt.
    const existing = await readUserByIdentity(byIdentity);
    if (existing) return { outcome: 'existing', user: existing };

    const identity = {
      identity_key: byIdentity,
      org_id: input.orgId,
      iss: input.iss,
      sub: input.sub,
      linked_at: input.now,
    };
    const sameEmail = await db
      .selectFrom('users')
      .selectAll()
      .where('email_key', '=', emailKey(input.orgId, input.email))
      .executeTakeFirst();
    if (sameEmail) {
      const sameEmailUser = toUser(sameEmail);
      if (!storeKit.mayLinkWithinScope(sameEmailUser, input)) {
        // The user may have been created together with this very identity since the first read.
        const linked = await readUserByIdentity(byIdentity);
        return linked ? { outcome: 'existing', user: linked } : { outcome: 'conflict' };
      }
      const claimed = storeKit.claimedByLink(sameEmailUser, input);
      if (!claimed) {
        // A unique violation here means a concurrent call linked this identity: retry finds it.
        await db
          .insertInto('identities')
          .values({ ...identity, user_id: sameEmail.user_id })
          .execute();
        return { outcome: 'linked', user: sameEmailUser };
      }
      // The claim and the link commit together; a concurrent claim by another registration makes
      // the conditional update miss, and the retry reads the user as that one left it.
      await db.transaction().execute(async (trx) => {
        const { numUpdatedRows } = await trx
          .updateTable('users')
          .set({ first_seen_through: fromFirstSeenThrough(claimed.firstSeenThrough) })
          .where('user_id', '=', sameEmail.user_id)
          .where('first_seen_through', '=', fromFirstSeenThrough(null))
          .executeTakeFirst();
        if (numUpdatedRows === 0n) throw new LostClaimError();
        await trx
          .insertInto('identities')
          .values({ ...identity, user_id: sameEmail.user_id })
          .execute();
      });
      return { outcome: 'linked', user: claimed };
    }
    if (input.mayCreate === false) return { outcome: 'not_provisioned' };

    const user = input.newUser;
    // A unique violation on the email or the identity means a concurrent call created the
    // user first; the transaction rolls back whole and the retry finds that user.
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values(fromUser(user)).execute();
      await trx
        .insertInto('identities')
        .values({ ...identity, user_id: user.userId })
        .execute();
      await insertDeliveries(trx, input.eventsIfCreated ?? []);
    });
    return { outcome: 'created', user };
  }

  return {
    async findOrCreateUser(input) {
      // Nearly every exchange is a returning user's: only identities the lookup misses go further.
      const existing = await findUsersByIdentity(
        identityKey(input.orgId, input.iss, input.sub, input.subjectClaim),
      );
      if (existing) return { outcome: 'existing', user: existing };
      return run(() => withRetries(isLostUserRace, () => linkOrCreate(input)));
    },

    getUser: (orgId, userId) => run(() => readUser(orgId, userId)),

    listUsers: ({ orgId, query, after, limit }) =>
      run(async () => {
        const rows = await db
          .selectFrom('users')
          .selectAll()
          .where('org_id', '=', orgId)
          .$if(after !== null, (select) => select.where(userAfter(after as ListingPosition)))
          .$if(query !== null, (select) => select.where(userMatches(query as string)))
          .orderBy('created_at', 'desc')
          .orderBy('user_id', 'desc')
          .limit(limit)
          .execute();
        return rows.map(toUser);
      }),

    getUserById: (userId) =>
      run(async () => {
        const row = await db.selectFrom('users').selectAll().where('user_id', '=', userId).executeTakeFirst();
        return row ? toUser(row) : null;
      }),

    updateUserVerification: (input) =>
      run(() =>
        withRetries(isRetryableConflict, async () => {
          const { expected, next } = input;
          // The WHERE on the expected state is the compare-and-set: of racing updates, one matches.
          const isUpdated = await db.transaction().execute(async (trx) => {
            const { numUpdatedRows } = await trx
              .updateTable('users')
              .set({ ...verificationColumns(next), updated_at: input.now })
              .where('user_id', '=', input.userId)
              .where('org_id', '=', input.orgId)
              .where('onboarding_completed', '=', flag(expected.onboardingCompleted))
              .where('kyc_status', '=', expected.kycStatus)
              .where('accreditation_status', '=', expected.accreditationStatus)
              .executeTakeFirst();
            if (numUpdatedRows !== 1n) return false;
            await insertDeliveries(trx, input.events);
            return true;
          });
          const user = await readUser(input.orgId, input.userId);
          if (!user) return { outcome: 'not_found' } as const;
          if (!isUpdated) return { outcome: 'stale', user } as const;
          // What this call wrote, even if a later change has landed since.
          return { outcome: 'updated', user: { ...user, ...next, updatedAt: input.now } } as const;
        }),
      ),

    createUser: ({ user, events }) =>
      run(() =>
        withRetries(isRetryableConflict, async () => {
          try {
            await db.transaction().execute(async (trx) => {
              await trx.insertInto('users').values(fromUser(user)).execute();
              await insertDeliveries(trx, events);
            });
            return 'created' as const;
          } catch (error) {
            if (isUniqueViolation(error)) return 'email_taken' as const;
            throw error;
          }
        }),
      ),

    deleteUser: ({ orgId, userId, events }) =>
      run(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute(async (trx) => {
            const { numDeletedRows } = await trx
              .deleteFrom('users')
              .where('user_id', '=', userId)
              .where('org_id', '=', orgId)
              .executeTakeFirst();
            if (numDeletedRows !== 1n) return false;
            await trx.deleteFrom('identities').where('user_id', '=', userId).execute();
            await trx.deleteFrom('refresh_tokens').where('user_id', '=', userId).execute();
            await insertDeliveries(trx, events);
            return true;
          }),
        ),
      ),

    setUserRole: ({ orgId, userId, role, now }) =>
      run(async () => {
        // One UPDATE touching only the role: a concurrent verification change is kept.
        const { numUpdatedRows } = await db
          .updateTable('users')
          .set({ role, updated_at: now })
          .where('user_id', '=', userId)
          .where('org_id', '=', orgId)
          .executeTakeFirst();
        return numUpdatedRows === 1n ? readUser(orgId, userId) : null;
      }),

    listIdentities: (orgId, userId) =>
      run(async () => {
        if (!(await readUser(orgId, userId))) return [];
        const rows = await db
          .selectFrom('identities')
          .select(['identity_key', 'iss', 'sub', 'linked_at'])
          .where('org_id', '=', orgId)
          .where('user_id', '=', userId)
          .execute();
        // The claim name is not a column: it is the one of the org's registrations' claims whose
        // key the row carries (identities linked before claim names all carry the `sub` key).
        const claims = await db
          .selectFrom('issuer_registrations')
          .select('subject_claim')
          .distinct()
          .where('org_id', '=', orgId)
          .where('subject_claim', '<>', 'sub')
          .execute();
        const claimOf = (row: (typeof rows)[number]) =>
          claims
            .map(({ subject_claim }) => subject_claim)
            .find((claim) => identityKey(orgId, row.iss, row.sub, claim) === row.identity_key) ?? 'sub';
        return inIdentityOrder(
          rows.map((row) => ({
            iss: row.iss,
            subjectClaim: claimOf(row),
            sub: row.sub,
            linkedAt: Number(row.linked_at),
          })),
        );
      }),
  };
}

// A unique violation on the email or the identity: a concurrent call created or linked first. A
// deadlock: MySQL aborted one of two such calls. Either way the next attempt reads the winner's rows.
/** Another registration claimed the user between the read and the conditional update. */
class LostClaimError extends Error {}

function isLostUserRace(error: unknown): boolean {
  return isUniqueViolation(error) || isRetryableConflict(error) || error instanceof LostClaimError;
}
