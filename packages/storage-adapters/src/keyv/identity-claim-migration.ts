import type { IssuerRegistrationRecord } from '@rialto-exchange/core';
import { isSameIssuer } from '../internal/issuer-spelling.js';
import type { KeyvContext } from './context.js';

/** Runs one step of the migration under its own deadline. */
type Step = <T>(operation: (deadlineAt: number) => Promise<T>) => Promise<T>;

const DONE = '11';
const IDENTITY_PREFIX = 'identity:';

/**
 * Identities are keyed by claim name since this version; `sub` identities keep their key. The
 * identities a registration made under another claim (Entra's `oid`) before it are moved to the
 * key that names the claim, so their users are found again and a `sub` of the same value is
 * somebody else. Keyv cannot enumerate keys, so they are found through the lists the store keeps:
 * every organization (`orgs`), its registrations, its users and each user's identity keys. One
 * step per user, so the deadline of a step does not grow with the store. Only keys without a claim
 * name move, so instances running it together, or a run cut short and repeated, change nothing
 * twice.
 */
export async function rekeyIdentityClaims(context: KeyvContext, step: Step): Promise<void> {
  const { key, get, set } = context;
  if ((await step((deadlineAt) => get<string>(deadlineAt, key.identityClaims))) === DONE) return;
  const orgIds = (await step((deadlineAt) => get<string[]>(deadlineAt, key.organizations))) ?? [];
  for (const orgId of orgIds) {
    const claimOfIssuer = await step((deadlineAt) => nonSubClaims(context, deadlineAt, orgId));
    if (claimOfIssuer.length === 0) continue;
    const userIds = (await step((deadlineAt) => get<string[]>(deadlineAt, key.orgUsers(orgId)))) ?? [];
    for (const userId of userIds) {
      await step((deadlineAt) => rekeyUser(context, deadlineAt, userId, claimOfIssuer));
    }
  }
  await step((deadlineAt) => set(deadlineAt, key.identityClaims, DONE));
}

/** The org's registrations on a claim other than `sub`, as [issuer, claim]. */
async function nonSubClaims(
  { key, get }: KeyvContext,
  deadlineAt: number,
  orgId: string,
): Promise<[string, string][]> {
  const entries =
    (await get<{ registrationId: string; issuer: string }[]>(deadlineAt, key.orgIssuers(orgId))) ?? [];
  const found: [string, string][] = [];
  for (const issuer of new Set(entries.map((entry) => entry.issuer))) {
    const registrations =
      (await get<IssuerRegistrationRecord[]>(deadlineAt, key.issuerRegistrations(issuer))) ?? [];
    for (const registration of registrations) {
      const claim = registration.subjectClaim ?? 'sub';
      if (registration.orgId === orgId && claim !== 'sub') found.push([registration.issuer, claim]);
    }
  }
  return found;
}

async function rekeyUser(
  context: KeyvContext,
  deadlineAt: number,
  userId: string,
  claimOfIssuer: [string, string][],
): Promise<void> {
  const { key, get, set, remove, withLocks } = context;
  const listKey = key.userIdentities(userId);
  await withLocks([listKey], async () => {
    const listed = (await get<string[]>(deadlineAt, listKey)) ?? [];
    const moves = listed.flatMap((identityKey) => {
      const target = claimedKey(context, identityKey, claimOfIssuer);
      return target === undefined ? [] : [[identityKey, target] as const];
    });
    if (moves.length === 0) return;
    // New links and the list naming them first, old keys last: cut short, the old keys are still
    // listed for the next run, and deleteUser finds every link meanwhile. An old key left behind
    // would be the `sub` identity of the same value, so none is dropped from the list before it goes.
    for (const [oldKey, target] of moves) {
      if ((await get<string>(deadlineAt, oldKey)) !== userId) continue;
      // A link already under the new key (a run before, or an identity made since) is kept.
      if ((await get<string>(deadlineAt, target)) === undefined) await set(deadlineAt, target, userId);
    }
    const targets = moves.map(([, target]) => target);
    await set(deadlineAt, listKey, [...new Set([...listed, ...targets])]);
    for (const [oldKey] of moves) {
      if ((await get<string>(deadlineAt, oldKey)) === userId) await remove(deadlineAt, oldKey);
    }
    const oldKeys = new Set(moves.map(([oldKey]) => oldKey));
    await set(
      deadlineAt,
      listKey,
      [...new Set([...listed, ...targets])].filter((listedKey) => !oldKeys.has(listedKey)),
    );
  });
}

/**
 * The key naming its claim that an identity of a non-`sub` registration stored without its claim
 * name moves to; `undefined` for an identity that stays where it is.
 */
function claimedKey(
  { key }: KeyvContext,
  identityKey: string,
  claimOfIssuer: [string, string][],
): string | undefined {
  if (!identityKey.startsWith(IDENTITY_PREFIX)) return undefined;
  const parts = JSON.parse(identityKey.slice(IDENTITY_PREFIX.length)) as string[];
  if (parts.length !== 3) return undefined;
  const [orgId = '', iss = '', sub = ''] = parts;
  const claim = claimOfIssuer.find(([issuer]) => isSameIssuer(iss, issuer))?.[1];
  return claim === undefined ? undefined : key.identity(orgId, iss, sub, claim);
}
