import type { RateLimitHit, RateLimitHitResult, RateLimitStore } from '@rialto-exchange/core';
import { type CompiledQuery, type Kysely, type QueryResult, type RawBuilder, sql } from 'kysely';
import { createBatcher } from '../internal/batcher.js';
import type { SqlContext } from './context.js';
import type { SqlDialect } from './migrations.js';
import type { Database } from './schema.js';

/** The parameters of one upsert: `hits` GCRA steps on `key` at `nowMs`. */
interface Step {
  key: string;
  nowMs: number;
  /** `nowMs + toleranceMs`: no hit may push the arrival time past it. */
  limitMs: number;
  intervalMs: number;
  hits: number;
  /** For a key without a row: its arrival time and admitted hits, computed here since nothing is stored. */
  freshArrivalMs: number;
  freshAdmitted: number;
}

// Stand-ins compiled into the statement once, then swapped for each step's values.
const PLACEHOLDERS: { readonly [Name in keyof Step]: Step[Name] } = {
  key: '\u0000rate-limit-key',
  nowMs: -1_000_001,
  limitMs: -1_000_002,
  intervalMs: -1_000_003,
  hits: -1_000_004,
  freshArrivalMs: -1_000_005,
  freshAdmitted: -1_000_006,
};

/**
 * `hitRateLimit` on SQL: the hits on one key that arrive within one event-loop turn are one
 * upsert, which applies their GCRA steps in order under the row lock and returns how many it
 * admitted, so N concurrent exchanges of an organization cost one statement (and, on SQLite, one
 * commit) instead of N serialized on the row. The batch's clock is its earliest hit's, which can
 * only admit less than each hit's own; the limit stays fleet-wide and atomic.
 */
export function sqlRateLimits({ db, dialect, run }: SqlContext): Required<RateLimitStore> {
  const { statement, decided } = compileUpsert(db, dialect);
  const slots = statement.parameters.map((parameter) => {
    const slot = (Object.keys(PLACEHOLDERS) as (keyof Step)[]).find(
      (name) => PLACEHOLDERS[name] === parameter,
    );
    if (slot === undefined) throw new Error('the rate-limit upsert compiled an unexpected parameter');
    return slot;
  });

  async function step(hits: readonly RateLimitHit[]): Promise<RateLimitHitResult[]> {
    const [first] = hits;
    if (first === undefined) return [];
    const { key, intervalMs, toleranceMs } = first;
    const nowMs = Math.min(...hits.map((hit) => hit.nowMs));
    const freshAdmitted = Math.min(hits.length, Math.floor(toleranceMs / intervalMs));
    const values: Step = {
      key,
      nowMs,
      limitMs: nowMs + toleranceMs,
      intervalMs,
      hits: hits.length,
      freshArrivalMs: nowMs + freshAdmitted * intervalMs,
      freshAdmitted,
    };
    const { admitted, arrivalMs } = decided(
      await db.executeQuery<SteppedRow>({ ...statement, parameters: slots.map((slot) => values[slot]) }),
    );
    // The n-th admitted hit moved the arrival time n intervals on; refused hits see where it ended.
    return hits.map((_, index) =>
      index < admitted
        ? { allowed: true, theoreticalArrivalMs: arrivalMs - (admitted - index - 1) * intervalMs }
        : { allowed: false, theoreticalArrivalMs: arrivalMs },
    );
  }

  const hitRateLimit = createBatcher<RateLimitHit, RateLimitHitResult>(async (hits) => {
    const byStep = new Map<string, RateLimitHit[]>();
    for (const hit of hits) {
      const id = JSON.stringify([hit.key, hit.intervalMs, hit.toleranceMs]);
      const same = byStep.get(id);
      if (same === undefined) byStep.set(id, [hit]);
      else same.push(hit);
    }
    const results = new Map<RateLimitHit, RateLimitHitResult>();
    await run(() =>
      Promise.all(
        [...byStep.values()].map(async (same) => {
          const stepped = await step(same);
          for (const [index, hit] of same.entries()) results.set(hit, stepped[index] as RateLimitHitResult);
        }),
      ),
    );
    return hits.map((hit) => results.get(hit) as RateLimitHitResult);
  }, MAX_BATCH);
  return { hitRateLimit };
}

type SteppedRow = Pick<Database['rate_limits'], 'arrival_ms' | 'last_allowed'>;

interface Upsert {
  statement: CompiledQuery<SteppedRow>;
  /** The key's arrival time after the batch, and how many of its hits were admitted. */
  decided(result: QueryResult<SteppedRow>): { arrivalMs: number; admitted: number };
}

// MySQL packs both numbers into LAST_INSERT_ID as `arrival × 256 + admitted`; batches stay below 256.
const PACKED_ADMITTED = 256;
// Hits per batch: below PACKED_ADMITTED.
const MAX_BATCH = 100;

/**
 * One upsert for a batch. Hit n of the batch is admitted when
 * `max(stored, now) + n × interval ≤ now + tolerance`, so the admitted count is that inequality
 * solved for n, between 0 and the batch size. Each assignment recomputes it from the stored value:
 * MySQL assigns left to right and would otherwise read `last_allowed` already overwritten.
 *
 * PostgreSQL and SQLite return the row (RETURNING). MySQL 8 has no RETURNING (MariaDB 10.5+ has),
 * so on the `mysql` dialect the statement passes the two numbers through `LAST_INSERT_ID(expr)`,
 * which the server sends back in the statement's own OK packet (the insert id): one round trip,
 * on either server.
 */
function compileUpsert(db: Kysely<Database>, dialect: SqlDialect): Upsert {
  const p = PLACEHOLDERS;
  const greatest = (a: RawBuilder<unknown>, b: unknown) =>
    dialect === 'sqlite' ? sql`max(${a}, ${b})` : sql`greatest(${a}, ${b})`;
  const least = (a: unknown, b: RawBuilder<unknown>) =>
    dialect === 'sqlite' ? sql`min(${a}, ${b})` : sql`least(${a}, ${b})`;
  // Whole intervals only: MySQL's `/` gives a decimal, and better-sqlite3 may bind numbers as REAL.
  const wholeIntervals = (ms: RawBuilder<unknown>) =>
    dialect === 'mysql'
      ? sql`(${ms}) div ${p.intervalMs}`
      : dialect === 'sqlite'
        ? sql`cast((${ms}) / ${p.intervalMs} as integer)`
        : sql`(${ms}) / ${p.intervalMs}`;

  const stored = sql.ref('rate_limits.arrival_ms');
  const base = greatest(sql`${stored}`, p.nowMs);
  const admitted = greatest(least(p.hits, wholeIntervals(sql`${p.limitMs} - ${base}`)), sql.lit(0));
  const arrival = sql`case when ${admitted} > 0 then ${base} + ${admitted} * ${p.intervalMs} else ${stored} end`;

  if (dialect === 'mysql') {
    const pack = (arrivalMs: unknown, count: unknown) =>
      sql<number>`last_insert_id(${arrivalMs} * ${sql.lit(PACKED_ADMITTED)} + ${count}) div ${sql.lit(PACKED_ADMITTED)}`;
    const statement = db
      .insertInto('rate_limits')
      .values({
        rate_key: p.key,
        arrival_ms: pack(p.freshArrivalMs, p.freshAdmitted),
        last_allowed: p.freshAdmitted,
      })
      .onDuplicateKeyUpdate({ last_allowed: sql<number>`${admitted}`, arrival_ms: pack(arrival, admitted) })
      .compile() as CompiledQuery<SteppedRow>;
    return {
      statement,
      decided({ insertId }) {
        if (insertId === undefined || insertId <= 0n)
          throw new Error('the rate-limit upsert reported no decision');
        const packed = BigInt(PACKED_ADMITTED);
        return { arrivalMs: Number(insertId / packed), admitted: Number(insertId % packed) };
      },
    };
  }

  const statement = db
    .insertInto('rate_limits')
    .values({ rate_key: p.key, arrival_ms: p.freshArrivalMs, last_allowed: p.freshAdmitted })
    .onConflict((conflict) =>
      conflict
        .column('rate_key')
        .doUpdateSet({ last_allowed: sql<number>`${admitted}`, arrival_ms: sql<number>`${arrival}` }),
    )
    .returning(['arrival_ms', 'last_allowed'])
    .compile();
  return {
    statement,
    decided({ rows: [row] }) {
      if (row === undefined) throw new Error('the rate-limit upsert returned no row');
      return { arrivalMs: Number(row.arrival_ms), admitted: Number(row.last_allowed) };
    },
  };
}
