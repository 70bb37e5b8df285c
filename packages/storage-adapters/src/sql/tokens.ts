import type { TokenStore } from '@rialto-exchange/core';
import { type Insertable, sql } from 'kysely';
import { createBatcher } from '../internal/batcher.js';
import { refreshFamiliesOf } from '../internal/refresh-families.js';
import { EXPIRY_MARGIN_SECONDS, epochSeconds, FAMILY_REVOCATION_MIN_SECONDS } from '../internal/retention.js';
import { type SqlContext, withRetries } from './context.js';
import type { SqlDialect } from './migrations.js';
import { fromRefreshToken, toRefreshToken } from './rows.js';
import type { Database } from './schema.js';
import { isRetryableConflict, isUniqueViolation, pastDeadline } from './sql-errors.js';

// Expired tokens and stale revocations are deleted after this many saves by one instance.
const SWEEP_EVERY_SAVES = 1_000;
// Rows per batched statement (7 parameters each): far below every dialect's parameter limit.
const MAX_BATCH = 100;

type RefreshTokenRow = Insertable<Database['refresh_tokens']>;
type ServerDialect = Exclude<SqlDialect, 'sqlite'>;
type SuccessorRow = ReturnType<typeof fromRefreshToken> & { parent_jti: string };

/**
 * Refresh tokens and single-use keys. A refresh token is used by the INSERT of its successor, whose
 * UNIQUE `parent_jti` lets exactly one successor in.
 */
export function sqlTokens({ db, dialect, run }: SqlContext): TokenStore {
  const insertRefreshTokenStatement = db
    .insertInto('refresh_tokens')
    .values({ jti: '', family_id: '', org_id: '', user_id: '', issued_at: 0, expires_at: 0, kid: '' })
    .compile();

  // Every exchange saves a refresh token. Saves that arrive together go out as one INSERT in one
  // operation: one round trip and one commit, so one fsync, for all of them. A multi-row INSERT is
  // atomic, so a failed batch fails each save in it and stores none.
  const insertRefreshTokenRows = createBatcher<RefreshTokenRow>(async (rows) => {
    await run(async () => {
      const [only] = rows;
      if (rows.length === 1 && only) {
        const { jti, family_id, org_id, user_id, issued_at, expires_at, kid } = only;
        await db.executeQuery({
          ...insertRefreshTokenStatement,
          parameters: [jti, family_id, org_id, user_id, issued_at, expires_at, kid],
        });
      } else {
        await db.insertInto('refresh_tokens').values(rows).execute();
      }
    });
    sweepNowAndThen(rows.length);
    return undefined;
  }, MAX_BATCH);

  let savesSinceSweep = 0;
  // Successors stored by rotation count too: a service that mostly refreshes must still sweep.
  function sweepNowAndThen(saves = 1): void {
    savesSinceSweep += saves;
    if (savesSinceSweep >= SWEEP_EVERY_SAVES) {
      savesSinceSweep = 0;
      // Housekeeping only: nothing depends on it finishing, and the next sweep retries.
      run(() => sweep(epochSeconds())).catch(() => {});
    }
  }
  async function sweep(now: number): Promise<void> {
    await db
      .deleteFrom('refresh_tokens')
      .where('expires_at', '<', now - EXPIRY_MARGIN_SECONDS)
      .execute();
    await db
      .deleteFrom('consumed_keys')
      .where('expires_at', '<', now - EXPIRY_MARGIN_SECONDS)
      .execute();
    // A revocation is kept while any token of its family remains, however long that token lives.
    await db
      .deleteFrom('revoked_token_families')
      .where('revoked_at', '<', now - FAMILY_REVOCATION_MIN_SECONDS)
      .where(({ exists, not, selectFrom }) =>
        not(
          exists(
            selectFrom('refresh_tokens')
              .select('refresh_tokens.jti')
              .whereRef('refresh_tokens.family_id', '=', 'revoked_token_families.family_id'),
          ),
        ),
      )
      .execute();
  }

  /**
   * The INSERT that uses the token and stores its successor: it copies nothing unless the token is
   * live, and the UNIQUE parent_jti refuses a second successor. It is sent only before `deadlineAt`,
   * on a connection already taken from the pool, and on PostgreSQL and MySQL it carries what is left
   * of the deadline, which the server checks against its own clock when the row is written: a
   * statement held up (a lock, a stalled link) cannot land after the caller was answered 503 and
   * make the retry read the token as reused. SQLite's connection checks the deadline itself.
   * @returns whether the successor was stored
   */
  function insertSuccessor(row: SuccessorRow, now: number, deadlineAt: number): Promise<boolean> {
    return db.connection().execute(async (connection) => {
      const leftMs = deadlineAt - performance.now();
      if (leftMs <= 0) throw pastDeadline();
      const { numInsertedOrUpdatedRows } = await connection
        .insertInto('refresh_tokens')
        .columns(['jti', 'family_id', 'org_id', 'user_id', 'issued_at', 'expires_at', 'kid', 'parent_jti'])
        .expression(({ selectFrom }) =>
          selectFrom('refresh_tokens')
            .select((eb) => [
              eb.val(row.jti).as('jti'),
              eb.val(row.family_id).as('family_id'),
              eb.val(row.org_id).as('org_id'),
              eb.val(row.user_id).as('user_id'),
              eb.val(row.issued_at).as('issued_at'),
              eb.val(row.expires_at).as('expires_at'),
              eb.val(row.kid).as('kid'),
              eb.val(row.parent_jti).as('parent_jti'),
            ])
            .where('jti', '=', row.parent_jti)
            .where('expires_at', '>', now)
            .where(({ not, exists, selectFrom }) =>
              not(
                exists(
                  selectFrom('revoked_token_families')
                    .select('revoked_token_families.family_id')
                    .whereRef('revoked_token_families.family_id', '=', 'refresh_tokens.family_id'),
                ),
              ),
            )
            .$if(dialect !== 'sqlite', (select) =>
              select.where(withinOnServerClock(dialect as ServerDialect, leftMs)),
            ),
        )
        .executeTakeFirst();
      if (numInsertedOrUpdatedRows === 1n) return true;
      // Refused by the server's clock, or not live: which one, only a retry can tell.
      if (performance.now() >= deadlineAt) throw pastDeadline();
      return false;
    });
  }

  return {
    saveRefreshToken(record) {
      // The row is built at the call: the caller may reuse its object before the batch goes out.
      return insertRefreshTokenRows(fromRefreshToken(record));
    },

    rotateRefreshToken({ jti, successor, now, graceSeconds }) {
      // Built at the call: the caller may reuse its object before the statement goes out.
      const row = { ...fromRefreshToken(successor), parent_jti: jti };
      return run((deadlineAt) =>
        withRetries(isRetryableConflict, async () => {
          // Being one autocommitted statement, a rotation either never ran or ran whole, and the
          // retry's classification below sees which.
          try {
            if (await insertSuccessor(row, now, deadlineAt)) {
              sweepNowAndThen();
              return { outcome: 'rotated', successor: toRefreshToken(row) };
            }
          } catch (error) {
            if (!isUniqueViolation(error)) throw error;
          }
          // Not live now: unknown, or used, and "used" never goes back, so these reads need no lock.
          const next = await db
            .selectFrom('refresh_tokens')
            .selectAll()
            .where('parent_jti', '=', jti)
            .executeTakeFirst();
          if (!next) return { outcome: 'unknown' };
          const [revoked, nextUsed] = await Promise.all([
            db
              .selectFrom('revoked_token_families')
              .select('family_id')
              .where('family_id', '=', next.family_id)
              .executeTakeFirst(),
            db
              .selectFrom('refresh_tokens')
              .select('jti')
              .where('parent_jti', '=', next.jti)
              .executeTakeFirst(),
          ]);
          if (revoked) return { outcome: 'unknown' };
          if (!nextUsed && now < Number(next.issued_at) + graceSeconds)
            return { outcome: 'retried', successor: toRefreshToken(next) };
          return { outcome: 'reused' };
        }),
      );
    },

    revokeRefreshTokenFamily: (familyId, now) =>
      run(async () => {
        // The marker first: if the DELETE never runs, the remaining tokens are refused anyway.
        try {
          await db
            .insertInto('revoked_token_families')
            .values({ family_id: familyId, revoked_at: now })
            .execute();
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
        await db.deleteFrom('refresh_tokens').where('family_id', '=', familyId).execute();
      }),

    isRefreshTokenLive: ({ jti, familyId, now }) =>
      run(async () => {
        // Live: its row, unexpired, no successor naming it as parent, and no revocation of its family.
        // Three reads of facts that only ever go one way (used, revoked), so no lock is needed.
        const [row, successor, revoked] = await Promise.all([
          db
            .selectFrom('refresh_tokens')
            .select('jti')
            .where('jti', '=', jti)
            .where('family_id', '=', familyId)
            .where('expires_at', '>', now)
            .executeTakeFirst(),
          db.selectFrom('refresh_tokens').select('jti').where('parent_jti', '=', jti).executeTakeFirst(),
          db
            .selectFrom('revoked_token_families')
            .select('family_id')
            .where('family_id', '=', familyId)
            .executeTakeFirst(),
        ]);
        return row !== undefined && successor === undefined && revoked === undefined;
      }),

    listRefreshFamilies: ({ orgId, userId, now, limit }) =>
      run(async () => {
        // Live as isRefreshTokenLive has it: unexpired, not a successor's parent, family not revoked.
        // A successor has its parent's org and user, so the used tokens are found among the user's.
        const rows = await db
          .selectFrom('refresh_tokens')
          .select(['family_id', 'issued_at', 'expires_at'])
          .where('org_id', '=', orgId)
          .where('user_id', '=', userId)
          .where('expires_at', '>', now)
          .where('jti', 'not in', (used) =>
            used
              .selectFrom('refresh_tokens')
              .select('parent_jti')
              .where('org_id', '=', orgId)
              .where('user_id', '=', userId)
              .where('parent_jti', 'is not', null),
          )
          .where('family_id', 'not in', (revoked) =>
            revoked.selectFrom('revoked_token_families').select('family_id'),
          )
          .execute();
        return refreshFamiliesOf(
          rows.map((row) => ({
            familyId: row.family_id,
            issuedAt: Number(row.issued_at),
            expiresAt: Number(row.expires_at),
          })),
          limit,
        );
      }),

    consumeOnce: (key, expiresAt, now) =>
      run(async () => {
        const insert = async () => {
          try {
            await db
              .insertInto('consumed_keys')
              .values({ consumed_key: key, expires_at: expiresAt })
              .execute();
            return true;
          } catch (error) {
            if (isUniqueViolation(error)) return false;
            throw error;
          }
        };
        if (await insert()) return true;
        // The key is taken; if only by an expired row, the caller whose DELETE removes it may retry.
        // Of several such callers one DELETE removes the row and one INSERT wins.
        const { numDeletedRows } = await db
          .deleteFrom('consumed_keys')
          .where('consumed_key', '=', key)
          .where('expires_at', '<=', now)
          .executeTakeFirst();
        return numDeletedRows === 1n && (await insert());
      }),
  };
}

/**
 * True while the statement has run for less than `leftMs` by the server's own clock, counted from
 * when the server started on it, so no clock skew between hosts enters. On PostgreSQL that start is
 * the statement's own transaction (it runs alone, autocommitted), which begins before any lock is
 * waited for: `statement_timestamp()` would not do, as the extended protocol's later messages reset
 * it once the lock is granted. On MySQL it is NOW(), the statement's start, against SYSDATE(), the
 * time of evaluation.
 */
function withinOnServerClock(dialect: ServerDialect, leftMs: number) {
  return dialect === 'postgres'
    ? sql<boolean>`clock_timestamp() < transaction_timestamp() + make_interval(secs => ${leftMs / 1000})`
    : sql<boolean>`sysdate(6) < now(6) + interval ${Math.floor(leftMs * 1000)} microsecond`;
}
