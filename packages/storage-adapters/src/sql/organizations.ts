import type {
  ApiKeyRecord,
  IssuerRegistrationConflict,
  IssuerRegistrationRecord,
  ListingPosition,
  OrganizationRecord,
  OrganizationStore,
} from '@rialto-exchange/core';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { type SqlContext, withRetries } from './context.js';
import { organizationAfter, organizationMatches } from './listing.js';
import { clientClaimKey, sha256 } from './lookup-keys.js';
import {
  endedRegistrationsColumn,
  fromIssuerPolicy,
  fromIssuerRegistration,
  fromOrganization,
  toApiKey,
  toIssuerRegistration,
  toOrganization,
} from './rows.js';
import type { Database } from './schema.js';
import { isRetryableConflict, isUniqueViolation } from './sql-errors.js';

/**
 * Organizations, their issuer registrations and API keys. The uniqueness of registrations is the
 * database's to decide: an `issuer_usage` row per issuer, locked by the UPDATE of each registration,
 * and UNIQUE keys on (org, issuer) and (issuer, client id).
 */
export function sqlOrganizations({ db, dialect, run }: SqlContext): OrganizationStore {
  async function readOrganization(orgId: string): Promise<OrganizationRecord | null> {
    const row = await db
      .selectFrom('organizations')
      .selectAll()
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return row ? toOrganization(row) : null;
  }

  /**
   * Writes a registration inside the caller's transaction, in the order of the contract's checks.
   * Each conflict throws, so the whole transaction rolls back.
   */
  async function insertIssuerRegistration(trx: Transaction<Database>, record: IssuerRegistrationRecord) {
    const issuerKey = sha256(record.issuer);
    await trx
      .insertInto('issuer_registrations')
      .values(fromIssuerRegistration(record))
      .execute()
      .catch(conflictOnUniqueViolation('duplicate'));
    const usage = { issuer_key: issuerKey, exclusive_registration_id: null, shared_count: 0 };
    const insertUsage = trx.insertInto('issuer_usage').values(usage);
    await (dialect === 'mysql'
      ? insertUsage.onDuplicateKeyUpdate({ issuer_key: issuerKey })
      : insertUsage.onConflict((conflict) => conflict.column('issuer_key').doNothing())
    ).execute();
    // The UPDATE locks the issuer's row until commit, so registrations of one issuer take turns here
    // and each sees the one before it.
    const isExclusive = record.clientIds.length === 0;
    const claimed = await trx
      .updateTable('issuer_usage')
      .$if(isExclusive, (update) =>
        update.set({ exclusive_registration_id: record.registrationId }).where('shared_count', '=', 0),
      )
      .$if(!isExclusive, (update) => update.set({ shared_count: sql`shared_count + 1` }))
      .where('issuer_key', '=', issuerKey)
      .where('exclusive_registration_id', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) throw new RegistrationConflict('issuer_taken');
    if (!isExclusive) {
      await trx
        .insertInto('issuer_client_claims')
        .values(
          record.clientIds.map((clientId) => ({
            claim_key: clientClaimKey(record.issuer, clientId),
            registration_id: record.registrationId,
          })),
        )
        .execute()
        .catch(conflictOnUniqueViolation('client_id_taken'));
    }
  }

  /** Runs a transaction that registers an issuer; a refused registration rolls back and is returned. */
  async function registering<T>(
    write: (trx: Transaction<Database>) => Promise<T>,
  ): Promise<T | IssuerRegistrationConflict> {
    return withRetries(isRetryableConflict, async () => {
      try {
        return await db.transaction().execute(write);
      } catch (error) {
        if (error instanceof RegistrationConflict) return error.conflict;
        throw error;
      }
    });
  }

  function readIssuerRegistrations(column: 'org_id' | 'issuer_key', value: string) {
    return db
      .selectFrom('issuer_registrations')
      .selectAll()
      .where(column, '=', value)
      .orderBy('created_at')
      .orderBy('registration_id')
      .execute();
  }

  return {
    createOrganization: (org, firstKey, firstIssuer) =>
      run(async () => {
        const outcome = await registering(async (trx) => {
          await trx.insertInto('organizations').values(fromOrganization(org, firstIssuer)).execute();
          await insertApiKey(trx, firstKey);
          await insertIssuerRegistration(trx, firstIssuer);
          return 'created' as const;
        });
        // A new org cannot register an issuer twice.
        return outcome === 'duplicate' ? 'issuer_taken' : outcome;
      }),

    getOrganization: (orgId) => run(() => readOrganization(orgId)),

    listOrganizations: ({ query, after, limit }) =>
      run(async () => {
        const rows = await db
          .selectFrom('organizations')
          .selectAll()
          .$if(after !== null, (select) => select.where(organizationAfter(after as ListingPosition)))
          .$if(query !== null, (select) => select.where(organizationMatches(query as string)))
          .orderBy('created_at', 'desc')
          .orderBy('org_id', 'desc')
          .limit(limit)
          .execute();
        return rows.map(toOrganization);
      }),

    updateOrganization: (orgId, patch, now) =>
      run(async () => {
        await db
          .updateTable('organizations')
          .set({
            ...(patch.name === undefined ? {} : { name: patch.name }),
            ...(patch.audience === undefined ? {} : { audience: JSON.stringify(patch.audience) }),
            ...(patch.provisioning === undefined ? {} : { provisioning: patch.provisioning }),
            ...(patch.suspendedAt === undefined ? {} : { suspended_at: patch.suspendedAt }),
            ...(patch.dpopBoundAccessTokens === undefined
              ? {}
              : { dpop_bound_access_tokens: patch.dpopBoundAccessTokens ? 1 : 0 }),
            ...(patch.endedRegistrations === undefined
              ? {}
              : { ended_registrations: endedRegistrationsColumn(patch.endedRegistrations) }),
            updated_at: now,
          })
          .where('org_id', '=', orgId)
          .execute();
        // Read back rather than count rows: MySQL counts only rows whose values changed, unless the
        // host's pool asked for found rows.
        return readOrganization(orgId);
      }),

    // One transaction over every table that names the org: all of it goes, or none.
    deleteOrganization: (orgId) =>
      run(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute(async (trx) => {
            const registrations = await trx
              .selectFrom('issuer_registrations')
              .selectAll()
              .where('org_id', '=', orgId)
              .execute();
            for (const registration of registrations) await removeRegistration(trx, registration);
            for (const table of [
              'api_keys',
              'identities',
              'users',
              'refresh_tokens',
              'webhook_deliveries',
              'webhook_subscriptions',
            ] as const) {
              await trx.deleteFrom(table).where('org_id', '=', orgId).execute();
            }
            const { numDeletedRows } = await trx
              .deleteFrom('organizations')
              .where('org_id', '=', orgId)
              .executeTakeFirst();
            return numDeletedRows === 1n;
          }),
        ),
      ),

    addIssuerRegistration: (record) =>
      run(() =>
        registering(async (trx) => {
          await insertIssuerRegistration(trx, record);
          return 'added' as const;
        }),
      ),

    listIssuerRegistrations: (orgId) =>
      run(async () => (await readIssuerRegistrations('org_id', orgId)).map(toIssuerRegistration)),

    findIssuerRegistrations: (issuer) =>
      run(async () =>
        (await readIssuerRegistrations('issuer_key', sha256(issuer)))
          .filter((row) => row.issuer === issuer)
          .map(toIssuerRegistration),
      ),

    replaceIssuerPolicy: (orgId, registrationId, policy, now) =>
      run(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute(async (trx) => {
            // The version compared in the UPDATE itself: of concurrent changes one matches.
            const { numUpdatedRows } = await trx
              .updateTable('issuer_registrations')
              .set({ ...fromIssuerPolicy(policy), updated_at: now })
              .where('registration_id', '=', registrationId)
              .where('org_id', '=', orgId)
              .where('policy_version', '=', policy.version - 1)
              .executeTakeFirst();
            const row = await trx
              .selectFrom('issuer_registrations')
              .selectAll()
              .where('registration_id', '=', registrationId)
              .where('org_id', '=', orgId)
              .executeTakeFirst();
            if (!row) return 'not_found' as const;
            return numUpdatedRows === 1n ? toIssuerRegistration(row) : ('version_conflict' as const);
          }),
        ),
      ),

    removeIssuerRegistration: (orgId, registrationId) =>
      run(() =>
        withRetries(isRetryableConflict, () =>
          db.transaction().execute(async (trx) => {
            const row = await trx
              .selectFrom('issuer_registrations')
              .selectAll()
              .where('registration_id', '=', registrationId)
              .where('org_id', '=', orgId)
              .executeTakeFirst();
            return row ? removeRegistration(trx, row) : false;
          }),
        ),
      ),

    addApiKey: (key) => run(() => insertApiKey(db, key)),

    listActiveApiKeys: (orgId) =>
      run(async () => {
        const rows = await db
          .selectFrom('api_keys')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('revoked_at', 'is', null)
          .orderBy('created_at')
          .orderBy('key_id')
          .execute();
        return rows.map(toApiKey);
      }),

    revokeApiKey: (orgId, keyId, now) =>
      run(async () => {
        const { numUpdatedRows } = await db
          .updateTable('api_keys')
          .set({ revoked_at: now })
          .where('org_id', '=', orgId)
          .where('key_id', '=', keyId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return numUpdatedRows === 1n;
      }),
  };
}

async function insertApiKey(db: Kysely<Database> | Transaction<Database>, key: ApiKeyRecord): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({
      key_id: key.keyId,
      org_id: key.orgId,
      hash: key.hash,
      created_at: key.createdAt,
      revoked_at: key.revokedAt,
    })
    .execute();
}

/** Thrown inside a registration's transaction to roll it back and report why. */
class RegistrationConflict extends Error {
  constructor(readonly conflict: IssuerRegistrationConflict) {
    super(conflict);
  }
}

function conflictOnUniqueViolation(conflict: IssuerRegistrationConflict) {
  return (error: unknown): never => {
    throw isUniqueViolation(error) ? new RegistrationConflict(conflict) : error;
  };
}

/**
 * Deletes a registration with its client-id claims and gives its share of the issuer back, inside
 * the caller's transaction.
 * @returns `false` when a concurrent removal got there first
 */
async function removeRegistration(
  trx: Transaction<Database>,
  row: Selectable<Database['issuer_registrations']>,
): Promise<boolean> {
  const removed = await trx
    .deleteFrom('issuer_registrations')
    .where('registration_id', '=', row.registration_id)
    .executeTakeFirst();
  if (Number(removed.numDeletedRows) === 0) return false;
  await trx.deleteFrom('issuer_client_claims').where('registration_id', '=', row.registration_id).execute();
  const isExclusive = (JSON.parse(row.client_ids) as string[]).length === 0;
  await trx
    .updateTable('issuer_usage')
    .$if(isExclusive, (update) =>
      update
        .set({ exclusive_registration_id: null })
        .where('exclusive_registration_id', '=', row.registration_id),
    )
    .$if(!isExclusive, (update) => update.set({ shared_count: sql`shared_count - 1` }))
    .where('issuer_key', '=', row.issuer_key)
    .execute();
  return true;
}
