/**
 * Seeds users straight into a store's own tables or keys, the rows its `findOrCreateUser` writes,
 * so that a seeded user is found by an exchange exactly like one the library created (bench/scale.ts).
 *
 * User `i` has the identity (org, IdP issuer, `subject-<i>`), the email `user<i>@bench.example`
 * (what `LocalIdp.idToken(i)` puts in its token, already normalized) and the id `seededUserId(i)`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { UserRecord } from '@rialto-exchange/core';
// The adapter's own layout, so that a change to it moves the seed too.
import { redisKeys } from '../../packages/storage-adapters/src/redis/key-layout.js';
import { userEmail } from './idp.js';

const SEED = 'rialto-bench-seed:';

/** A v4-shaped UUID derived from md5(SEED + i); the SQL below computes the same string. */
export function seededUserId(index: number): string {
  const h = createHash('md5').update(`${SEED}${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const SQL_USER_ID = `substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-8' || substr(h, 18, 3) || '-' || substr(h, 21, 12)`;

/**
 * PostgreSQL: `INSERT … SELECT generate_series` into `<prefix>users` and `<prefix>identities`, in
 * batches. `identity_key` = sha256 hex of `JSON.stringify([orgId, iss, sub])` and `email_key` of
 * `JSON.stringify([orgId, email])`, as sql-store.ts computes them (the parts hold no character JSON
 * escapes, so plain concatenation gives the same text).
 */
export async function seedPostgres(options: {
  url: string;
  tablePrefix: string;
  orgId: string;
  issuer: string;
  count: number;
  batch?: number;
  onProgress?: (done: number) => void;
}): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: options.url });
  await client.connect();
  const { tablePrefix: p, orgId, issuer, count } = options;
  const batch = options.batch ?? 100_000;
  const now = Math.floor(Date.now() / 1000);
  try {
    for (let from = 0; from < count; from += batch) {
      const to = Math.min(count, from + batch) - 1;
      const series = `SELECT i, ${SQL_USER_ID} AS user_id FROM (SELECT i, md5('${SEED}' || i) AS h FROM generate_series($2::int, $3::int) AS i) AS hashed`;
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO "${p}users" (user_id, org_id, email, email_key, onboarding_completed, kyc_completed, accredited, accreditation_verified, kyc_status, accreditation_status, created_at, updated_at)
         SELECT user_id, $1::text, 'user' || i || '@bench.example',
                encode(sha256(convert_to('["' || $1::text || '","user' || i || '@bench.example"]', 'UTF8')), 'hex'),
                false, false, false, false, 'not_started', 'not_submitted', $4::bigint, $4::bigint
         FROM (${series}) AS s`,
        [orgId, from, to, now],
      );
      await client.query(
        `INSERT INTO "${p}identities" (identity_key, org_id, iss, sub, user_id, linked_at)
         SELECT encode(sha256(convert_to('["' || $1::text || '","' || $5::text || '","subject-' || i || '"]', 'UTF8')), 'hex'),
                $1::text, $5::text, 'subject-' || i, user_id, $4::bigint
         FROM (${series}) AS s`,
        [orgId, from, to, now, issuer],
      );
      await client.query('COMMIT');
      options.onProgress?.(to + 1);
    }
    await client.query(`ANALYZE "${p}users"`);
    await client.query(`ANALYZE "${p}identities"`);
  } finally {
    await client.end();
  }
}

/**
 * Redis: pipelined batches (several in flight) of what redis-store's FIND_OR_CREATE_USER script and
 * its user-id index write, at the keys the adapter's own layout names (`redisKeys`): per user, a
 * field in the organization's users, identities and emails hashes, and its `user-org` entry.
 */
export async function seedRedis(options: {
  url: string;
  keyPrefix: string;
  orgId: string;
  issuer: string;
  count: number;
  batch?: number;
  onProgress?: (done: number) => void;
}): Promise<void> {
  const { createClient } = await import('redis');
  const client = await createClient({ url: options.url }).connect();
  const { keyPrefix, orgId, issuer, count } = options;
  const keys = redisKeys(keyPrefix);
  const org = keys.org(orgId);
  const batch = options.batch ?? 2_000;
  const inFlight = 8;
  const now = Math.floor(Date.now() / 1000);
  const commands = (from: number): string[][] => {
    const users = ['HSET', org.users];
    const identities = ['HSET', org.identities];
    const emails = ['HSET', org.emails];
    const userOrgs = ['MSET'];
    for (let i = from; i < Math.min(count, from + batch); i++) {
      const userId = seededUserId(i);
      const email = userEmail(i);
      const user: UserRecord = {
        userId,
        orgId,
        email,
        role: 'member',
        onboardingCompleted: false,
        kycStatus: 'not_started',
        accreditationStatus: 'not_submitted',
        createdAt: now,
        updatedAt: now,
      };
      users.push(userId, JSON.stringify(user));
      identities.push(keys.identityField(issuer, `subject-${i}`), userId);
      emails.push(email, userId);
      userOrgs.push(keys.userOrg(userId), orgId);
    }
    return [userOrgs, users, identities, emails];
  };
  try {
    let next = 0;
    let reported = 0;
    const worker = async () => {
      while (next < count) {
        const from = next;
        next += batch;
        // Pipelined on one connection, so they run in this order: the user-id index first, as the
        // adapter writes it.
        await Promise.all(commands(from).map((command) => client.sendCommand(command)));
        const done = Math.min(count, from + batch);
        if (done - reported >= 100_000 || done === count) {
          reported = done;
          options.onProgress?.(done);
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    client.destroy();
  }
}

/** Deletes every key under `prefix` with large SCAN pages (millions of seeded keys). */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const { createClient } = await import('redis');
  const admin = await createClient({ url }).connect();
  try {
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 20_000 })) {
      if (keys.length > 0) await admin.unlink(keys);
    }
  } finally {
    admin.destroy();
  }
}

/** Replaces the block between `<!-- bench:<name>:start -->` and `…:end -->` in a file (appends it when absent). */
export function replaceBlock(path: string, name: string, text: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${text}\n${end}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  writeFileSync(
    path,
    from >= 0 && to > from
      ? `${current.slice(0, from)}${block}${current.slice(to + end.length)}`
      : `${current}\n${block}\n`,
  );
}

/** Deterministic sample of `size` distinct indices in [0, range) (a small LCG, so runs repeat). */
export function sampleIndices(range: number, size: number, seed = 12345): number[] {
  const picked = new Set<number>();
  let state = seed >>> 0;
  while (picked.size < Math.min(size, range)) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    picked.add(Math.floor((state / 2 ** 32) * range));
  }
  return [...picked];
}
