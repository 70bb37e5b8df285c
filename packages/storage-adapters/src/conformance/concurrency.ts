import { randomUUID } from 'node:crypto';
import type { FindOrCreateUserResult } from '@rialto-exchange/core';
import { describe, expect } from 'vitest';
import type { SuiteContext } from './context.js';
import {
  apiKey,
  identity,
  issuerRegistration,
  nowSeconds,
  organization,
  refreshToken,
  signingKey,
  successorOf,
  withAnotherNewUser,
} from './fixtures.js';

const USER_CALLS = 50;
const ROTATE_CALLS = 20;
const SMALL_RACE_CALLS = 10;

function times<T>(count: number, make: (index: number) => T): T[] {
  return Array.from({ length: count }, (_, index) => make(index));
}

function outcomes(results: FindOrCreateUserResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { outcome } of results) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return counts;
}

function userIds(results: FindOrCreateUserResult[]): Set<string> {
  return new Set(results.flatMap((result) => ('user' in result ? [result.user.userId] : [])));
}

/** Cases that start many calls at once on one store, as several instances would on one backend. */
export function describeConcurrency({ freshStore, itGuarantees }: SuiteContext): void {
  describe('concurrency', () => {
    itGuarantees(
      'concurrentCreateOrganization',
      `${SMALL_RACE_CALLS} parallel createOrganization calls for one issuer: exactly one is created, with only its key`,
      async () => {
        const store = await freshStore();
        const issuer = `https://idp-${randomUUID()}.example.com`;
        const orgs = times(SMALL_RACE_CALLS, () => organization());
        const registrations = orgs.map((org) => issuerRegistration(org.orgId, { issuer }));

        const results = await Promise.all(
          orgs.map((org, index) =>
            store.createOrganization(org, apiKey(org.orgId), registrations[index] ?? expect.unreachable()),
          ),
        );

        expect(results.filter((result) => result === 'created')).toHaveLength(1);
        const winner = orgs[results.indexOf('created')] ?? expect.unreachable();
        expect(await store.findIssuerRegistrations(issuer)).toEqual([
          registrations[results.indexOf('created')],
        ]);
        expect(await store.getOrganization(winner.orgId)).toEqual(winner);
        for (const org of orgs.filter((candidate) => candidate !== winner)) {
          expect(await store.getOrganization(org.orgId)).toBeNull();
          expect(await store.listActiveApiKeys(org.orgId)).toEqual([]);
        }
      },
    );

    itGuarantees(
      'concurrentAddApiKey',
      `${SMALL_RACE_CALLS} parallel addApiKey calls for one organization: every key is kept`,
      async () => {
        const store = await freshStore();
        const org = organization();
        const first = apiKey(org.orgId);
        await store.createOrganization(org, first, issuerRegistration(org.orgId));
        const keys = times(SMALL_RACE_CALLS, (index) =>
          apiKey(org.orgId, { createdAt: first.createdAt + index + 1 }),
        );

        await Promise.all(keys.map((key) => store.addApiKey(key)));

        expect(await store.listActiveApiKeys(org.orgId)).toEqual([first, ...keys]);
      },
    );

    itGuarantees(
      'concurrentFindOrCreate',
      `${USER_CALLS} parallel findOrCreateUser calls for one identity: exactly one created, one user`,
      async () => {
        const store = await freshStore();
        const org = organization();
        await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
        const first = identity(org.orgId, { mayLinkByEmail: false });

        const results = await Promise.all(
          times(USER_CALLS, () => store.findOrCreateUser(withAnotherNewUser(first))),
        );

        expect(outcomes(results)).toEqual({ created: 1, existing: USER_CALLS - 1 });
        expect(userIds(results).size).toBe(1);
      },
    );

    itGuarantees(
      'concurrentEmailLinking',
      `${USER_CALLS} parallel findOrCreateUser calls for one email, each with its own sub: one user, every identity linked to it`,
      async () => {
        const store = await freshStore();
        const org = organization();
        await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));
        const inputs = times(USER_CALLS, () => identity(org.orgId, { mayLinkByEmail: true }));

        const results = await Promise.all(inputs.map((input) => store.findOrCreateUser(input)));

        expect(outcomes(results)).toEqual({ created: 1, linked: USER_CALLS - 1 });
        const ids = userIds(results);
        expect(ids.size).toBe(1);
        const again = await Promise.all(inputs.map((input) => store.findOrCreateUser(input)));
        expect(outcomes(again)).toEqual({ existing: USER_CALLS });
        expect(userIds(again)).toEqual(ids);
      },
    );

    itGuarantees(
      'concurrentRotate',
      `${ROTATE_CALLS} parallel rotateRefreshToken calls for one token within the grace window: one rotates, every other gets that same successor`,
      async () => {
        const store = await freshStore();
        const token = refreshToken();
        await store.saveRefreshToken(token);
        const now = nowSeconds();
        const successors = times(ROTATE_CALLS, () => successorOf(token, now));

        const results = await Promise.all(
          successors.map((successor) =>
            store.rotateRefreshToken({ jti: token.jti, successor, now, graceSeconds: 10 }),
          ),
        );

        const rotated = results.filter((result) => result.outcome === 'rotated');
        expect(rotated).toHaveLength(1);
        const winner = rotated[0]?.successor;
        expect(results).toEqual(
          results.map((result) =>
            result.outcome === 'rotated' ? result : { outcome: 'retried', successor: winner },
          ),
        );
        const losers = successors.filter((successor) => successor.jti !== winner?.jti);
        for (const loser of losers) {
          const later = successorOf(loser, now);
          expect(
            await store.rotateRefreshToken({ jti: loser.jti, successor: later, now, graceSeconds: 10 }),
          ).toEqual({ outcome: 'unknown' });
        }
      },
    );

    itGuarantees(
      'concurrentRotate',
      `${ROTATE_CALLS} parallel rotateRefreshToken calls for one token without a grace window: one rotates, every other is reuse`,
      async () => {
        const store = await freshStore();
        const token = refreshToken();
        await store.saveRefreshToken(token);
        const now = nowSeconds();

        const results = await Promise.all(
          times(ROTATE_CALLS, () =>
            store.rotateRefreshToken({
              jti: token.jti,
              successor: successorOf(token, now),
              now,
              graceSeconds: 0,
            }),
          ),
        );

        const counts: Record<string, number> = {};
        for (const { outcome } of results) counts[outcome] = (counts[outcome] ?? 0) + 1;
        expect(counts).toEqual({ rotated: 1, reused: ROTATE_CALLS - 1 });
      },
    );

    itGuarantees(
      'concurrentEnsureSigningKey',
      `${SMALL_RACE_CALLS} parallel ensureSigningKey calls with different candidates: all get the same key, which is the only one stored`,
      async () => {
        const store = await freshStore();
        const candidates = times(SMALL_RACE_CALLS, () => signingKey('access_token'));

        const results = await Promise.all(candidates.map((candidate) => store.ensureSigningKey(candidate)));

        const kids = new Set(results.map((result) => result.kid));
        expect(kids.size).toBe(1);
        expect(candidates.map((candidate) => candidate.kid)).toContain(results[0]?.kid);
        expect(await store.listSigningKeys('access_token')).toEqual([results[0]]);
      },
    );
  });
}
