import type { IssuerRegistrationRecord } from '@rialto-exchange/core';
import type { RedisStore } from '@rialto-exchange/storage-adapters';
import { expect } from 'vitest';
import { apiKey, issuerRegistration, organization } from '../src/conformance/fixtures.js';

/*
 * Issuer index entries left behind by a crash or by a claim racing deleteOrganization, written by
 * hand exactly as those leave them, for the standalone and the cluster tests alike.
 */

/** The few raw commands the scenarios need, on a standalone client or a cluster client. */
export interface RawRedis {
  hSet(key: string, field: string, value: string): Promise<unknown>;
  hDel(key: string, field: string): Promise<unknown>;
  hVals(key: string): Promise<string[]>;
  exists(key: string): Promise<number>;
}

interface Context {
  store: RedisStore;
  keyPrefix: string;
  raw: RawRedis;
}

const indexKey = (keyPrefix: string, issuer: string) => `${keyPrefix}issuer-regs:${issuer}`;
const orgSideKey = (keyPrefix: string, orgId: string) => `${keyPrefix}{o:${orgId}}:registrations`;

async function storedIndex(raw: RawRedis, keyPrefix: string, issuer: string): Promise<string[]> {
  const stored = await raw.hVals(indexKey(keyPrefix, issuer));
  return stored.map((json) => (JSON.parse(json) as IssuerRegistrationRecord).registrationId).sort();
}

/** Creates an org holding `registration` through the store, so everything of it is real. */
async function createOrgWith(store: RedisStore, registration: IssuerRegistrationRecord) {
  const org = organization({ orgId: registration.orgId });
  expect(await store.createOrganization(org, apiKey(org.orgId), registration)).toBe('created');
}

/**
 * addIssuerRegistration racing deleteOrganization: the claim lands after the org is gone, either
 * with the org's copy written back after the delete (its HSETNX came after) or without it (the
 * delete removed it). Then an org that lives but lost the copy of one of its entries.
 */
export async function expectRaceLeftoversReleased({ store, keyPrefix, raw }: Context): Promise<void> {
  const issuer = `https://race-${keyPrefix}.example.com`;
  const deleted = organization();
  await createOrgWith(store, issuerRegistration(deleted.orgId));
  expect(await store.deleteOrganization(deleted.orgId)).toBe(true);
  const writtenBack = issuerRegistration(deleted.orgId, { issuer, clientIds: ['client-a'] });
  const dropped = issuerRegistration(deleted.orgId, { issuer, clientIds: ['client-b'] });
  await raw.hSet(
    orgSideKey(keyPrefix, deleted.orgId),
    writtenBack.registrationId,
    JSON.stringify(writtenBack),
  );
  for (const leftover of [writtenBack, dropped]) {
    await raw.hSet(indexKey(keyPrefix, issuer), leftover.registrationId, JSON.stringify(leftover));
  }
  const living = issuerRegistration(crypto.randomUUID(), { issuer, clientIds: ['client-live'] });
  await createOrgWith(store, living);
  const copyLost = issuerRegistration(living.orgId, {
    issuer: `https://lost-${keyPrefix}.example.com`,
    clientIds: ['client-c'],
  });
  expect(await store.addIssuerRegistration(copyLost)).toBe('added');
  await raw.hDel(orgSideKey(keyPrefix, living.orgId), copyLost.registrationId);

  expect(await store.findIssuerRegistrations(issuer)).toEqual([living]);
  expect(await store.findIssuerRegistrations(copyLost.issuer)).toEqual([]);

  const takesA = issuerRegistration(crypto.randomUUID(), { issuer, clientIds: ['client-a'] });
  await createOrgWith(store, takesA);
  const takesB = issuerRegistration(crypto.randomUUID(), { issuer, clientIds: ['client-b'] });
  await createOrgWith(store, takesB);
  // Through addIssuerRegistration this time, by an org that exists already.
  const takesC = issuerRegistration(takesB.orgId, { issuer: copyLost.issuer, clientIds: ['client-c'] });
  expect(await store.addIssuerRegistration(takesC)).toBe('added');

  expect(await storedIndex(raw, keyPrefix, issuer)).toEqual(
    [living, takesA, takesB].map((r) => r.registrationId).sort(),
  );
  expect(await storedIndex(raw, keyPrefix, copyLost.issuer)).toEqual([takesC.registrationId]);
  // The deleted org's written-back copy went with its entry; the living org's copies are untouched.
  expect(await raw.exists(orgSideKey(keyPrefix, deleted.orgId))).toBe(0);
  expect(await store.listIssuerRegistrations(living.orgId)).toEqual([living]);
  expect((await store.findIssuerRegistrations(issuer)).map((r) => r.registrationId).sort()).toEqual(
    [living, takesA, takesB].map((r) => r.registrationId).sort(),
  );
}

/**
 * A process stopped between createOrganization's two steps: the org and its copy exist, the
 * issuer's index never got the entry. A retry (a new org, as core makes one per call) succeeds.
 */
export async function expectInterruptedCreateRetried({ store, keyPrefix, raw }: Context): Promise<void> {
  const issuer = `https://retry-${keyPrefix}.example.com`;
  const orphan = issuerRegistration(crypto.randomUUID(), { issuer, clientIds: ['client-a'] });
  await createOrgWith(store, orphan);
  await raw.hDel(indexKey(keyPrefix, issuer), orphan.registrationId);

  expect(await store.findIssuerRegistrations(issuer)).toEqual([]);
  const retry = issuerRegistration(crypto.randomUUID(), { issuer, clientIds: ['client-a'] });
  await createOrgWith(store, retry);
  expect(await store.findIssuerRegistrations(issuer)).toEqual([retry]);
}

/**
 * Claims racing each other and the cleanup of leftovers: every claim that answered 'created' stays
 * in the index (a cleanup never removes a live entry), and each client id has exactly one holder.
 */
export async function expectLiveClaimsSurviveCleanup({ store, keyPrefix, raw }: Context): Promise<void> {
  const issuer = `https://contended-${keyPrefix}.example.com`;
  const contended = ['client-a', 'client-b', 'client-c'];
  for (const clientId of contended) {
    const leftover = issuerRegistration(crypto.randomUUID(), { issuer, clientIds: [clientId] });
    await raw.hSet(indexKey(keyPrefix, issuer), leftover.registrationId, JSON.stringify(leftover));
  }
  const claims = [
    // Several claimers per leftover: each meets the leftover, drops it, and they race to claim.
    ...contended.flatMap((clientId) =>
      Array.from({ length: 4 }, () =>
        issuerRegistration(crypto.randomUUID(), { issuer, clientIds: [clientId] }),
      ),
    ),
    // Fresh client ids claimed meanwhile: their entries appear while the others clean up.
    ...Array.from({ length: 8 }, (_, index) =>
      issuerRegistration(crypto.randomUUID(), { issuer, clientIds: [`client-new-${index}`] }),
    ),
  ];
  const outcomes = await Promise.all(
    claims.map((registration) =>
      store.createOrganization(
        organization({ orgId: registration.orgId }),
        apiKey(registration.orgId),
        registration,
      ),
    ),
  );

  const winners = claims.filter((_, index) => outcomes[index] === 'created');
  const losers = outcomes.filter((outcome) => outcome !== 'created');
  expect(new Set(losers)).toEqual(new Set(['client_id_taken']));
  expect(winners.flatMap((r) => r.clientIds).sort()).toEqual(
    [...contended, ...Array.from({ length: 8 }, (_, index) => `client-new-${index}`)].sort(),
  );
  expect(await storedIndex(raw, keyPrefix, issuer)).toEqual(winners.map((r) => r.registrationId).sort());
  expect((await store.findIssuerRegistrations(issuer)).map((r) => r.registrationId).sort()).toEqual(
    winners.map((r) => r.registrationId).sort(),
  );
}

/**
 * The race itself, run for real a number of times: whatever interleaving happens, the issuer and
 * client id are free again for another org once the delete returned.
 */
export async function expectDeleteRacingClaimReleasesIssuer({ store, keyPrefix }: Context): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const issuer = `https://delete-race-${round}-${keyPrefix}.example.com`;
    const doomed = organization();
    await createOrgWith(store, issuerRegistration(doomed.orgId));
    const late = issuerRegistration(doomed.orgId, { issuer, clientIds: ['client-a'] });
    await Promise.all([store.deleteOrganization(doomed.orgId), store.addIssuerRegistration(late)]);

    expect(await store.findIssuerRegistrations(issuer)).toEqual([]);
    const next = issuerRegistration(crypto.randomUUID(), { issuer, clientIds: ['client-a'] });
    await createOrgWith(store, next);
    expect(await store.findIssuerRegistrations(issuer)).toEqual([next]);
  }
}
