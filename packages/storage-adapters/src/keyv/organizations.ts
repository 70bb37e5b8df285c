import type {
  ApiKeyRecord,
  EmailLinkingPolicy,
  IssuerRegistrationRecord,
  OrganizationRecord,
  OrganizationStore,
} from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { addToList, type KeyvContext, removeFromList } from './context.js';
import { subscriptionsOf } from './outbox.js';
import { readUser, removeUser } from './users.js';

/** The issuer fields organization records carried before issuer registrations. */
interface LegacyIssuerFields {
  issuer: string;
  clientIds: string[];
  allowedAlgorithms: string[];
  emailLinking: EmailLinkingPolicy;
}

interface OrgIssuerEntry {
  registrationId: string;
  issuer: string;
}

/**
 * Organizations, the registrations of each issuer (one list per issuer, which resolving a token
 * reads) with each org's index of them, and API keys (one list per org).
 */
export function keyvOrganizations(context: KeyvContext): OrganizationStore {
  const { key, run, get, set, remove, withLocks } = context;

  async function readOrganization(
    deadlineAt: number,
    orgId: string,
  ): Promise<OrganizationRecord | undefined> {
    const org = await get<OrganizationRecord>(deadlineAt, key.organization(orgId));
    return org && organizationFields(org);
  }

  const registrationsOfIssuer = async (deadlineAt: number, issuer: string) =>
    (await get<IssuerRegistrationRecord[]>(deadlineAt, key.issuerRegistrations(issuer))) ?? [];
  const orgIndex = async (deadlineAt: number, orgId: string) =>
    (await get<OrgIssuerEntry[]>(deadlineAt, key.orgIssuers(orgId))) ?? [];

  /**
   * Moves the issuer fields of an organization written before issuer registrations into its first
   * registration (id = org id), on first touch. Each step is idempotent and the legacy index goes
   * last, so an interrupted upgrade is finished by the next call.
   */
  async function upgradeOrganization(deadlineAt: number, orgId: string): Promise<void> {
    const org = await get<OrganizationRecord & Partial<LegacyIssuerFields>>(
      deadlineAt,
      key.organization(orgId),
    );
    if (org?.issuer === undefined) return;
    const registration: IssuerRegistrationRecord = {
      registrationId: orgId,
      orgId,
      issuer: org.issuer,
      clientIds: org.clientIds ?? [],
      allowedAlgorithms: org.allowedAlgorithms ?? [],
      emailLinking: org.emailLinking ?? 'unless_unverified',
      subjectClaim: 'sub',
      trustUsernameClaims: false,
      createdAt: org.createdAt,
      updatedAt: org.updatedAt,
    };
    const sameIssuer = await registrationsOfIssuer(deadlineAt, org.issuer);
    if (!sameIssuer.some((found) => found.registrationId === orgId)) {
      await set(deadlineAt, key.issuerRegistrations(org.issuer), [...sameIssuer, registration]);
    }
    const index = await orgIndex(deadlineAt, orgId);
    if (!index.some((entry) => entry.registrationId === orgId)) {
      await set(deadlineAt, key.orgIssuers(orgId), [...index, indexEntry(registration)]);
    }
    await set(deadlineAt, key.organization(orgId), organizationFields(org));
    await remove(deadlineAt, key.legacyIssuer(org.issuer));
  }

  async function upgradeIssuer(deadlineAt: number, issuer: string): Promise<void> {
    const orgId = await get<string>(deadlineAt, key.legacyIssuer(issuer));
    if (orgId !== undefined) await upgradeOrganization(deadlineAt, orgId);
  }

  async function deleteOrganization(deadlineAt: number, orgId: string): Promise<boolean> {
    const org = await readOrganization(deadlineAt, orgId);
    // What readers reach the org through goes first: its issuer registrations.
    await upgradeOrganization(deadlineAt, orgId);
    for (const entry of await orgIndex(deadlineAt, orgId)) {
      await withLocks([key.issuerRegistrations(entry.issuer)], async () => {
        const sameIssuer = await registrationsOfIssuer(deadlineAt, entry.issuer);
        await set(
          deadlineAt,
          key.issuerRegistrations(entry.issuer),
          sameIssuer.filter((registration) => registration.orgId !== orgId),
        );
      });
    }
    await remove(deadlineAt, key.orgIssuers(orgId));
    await remove(deadlineAt, key.organization(orgId));
    await remove(deadlineAt, key.apiKeys(orgId));
    for (const subscription of await subscriptionsOf(context, deadlineAt, orgId)) {
      const listKey = key.subscriptionDeliveries(subscription.subscriptionId);
      for (const deliveryId of (await get<string[]>(deadlineAt, listKey)) ?? [])
        await remove(deadlineAt, key.delivery(deliveryId));
      await remove(deadlineAt, listKey);
    }
    await remove(deadlineAt, key.subscriptions(orgId));
    for (const userId of (await get<string[]>(deadlineAt, key.orgUsers(orgId))) ?? []) {
      const user = await readUser(context, deadlineAt, userId);
      if (user?.orgId === orgId) await removeUser(context, deadlineAt, user);
    }
    await remove(deadlineAt, key.orgUsers(orgId));
    await removeFromList(context, deadlineAt, key.organizations, orgId);
    return org !== undefined;
  }

  return {
    createOrganization: (org, firstKey, firstIssuer) =>
      run(async (deadlineAt) => {
        await upgradeIssuer(deadlineAt, firstIssuer.issuer);
        return withLocks([key.issuerRegistrations(firstIssuer.issuer)], async () => {
          const sameIssuer = await registrationsOfIssuer(deadlineAt, firstIssuer.issuer);
          const conflict = storeKit.issuerRegistrationConflict(sameIssuer, firstIssuer);
          if (conflict === 'issuer_taken' || conflict === 'client_id_taken') return conflict;
          await set(deadlineAt, key.organization(org.orgId), org);
          await set(deadlineAt, key.apiKeys(org.orgId), [firstKey]);
          await set(deadlineAt, key.orgIssuers(org.orgId), [indexEntry(firstIssuer)]);
          await set(deadlineAt, key.issuerRegistrations(firstIssuer.issuer), [...sameIssuer, firstIssuer]);
          await addToList(context, deadlineAt, key.organizations, org.orgId);
          return 'created' as const;
        });
      }),

    getOrganization: (orgId) =>
      run(async (deadlineAt) => (await readOrganization(deadlineAt, orgId)) ?? null),

    updateOrganization: (orgId, patch, now) =>
      run(async (deadlineAt) => {
        await upgradeOrganization(deadlineAt, orgId);
        return withLocks([key.organization(orgId)], async () => {
          const org = await readOrganization(deadlineAt, orgId);
          if (!org) return null;
          const updated = storeKit.applyOrganizationPatch(org, patch, now);
          await set(deadlineAt, key.organization(orgId), updated);
          return updated;
        });
      }),

    listOrganizations: ({ query, after, limit }) =>
      run(async (deadlineAt) => {
        const orgIds = (await get<string[]>(deadlineAt, key.organizations)) ?? [];
        const orgs = await Promise.all(orgIds.map((orgId) => readOrganization(deadlineAt, orgId)));
        const matching = orgs.filter(
          (org): org is OrganizationRecord =>
            org !== undefined &&
            storeKit.isAfterPosition(org.createdAt, org.orgId, after) &&
            storeKit.matchesOrganizationQuery(org, query),
        );
        return storeKit.sortedBy(matching, storeKit.newestOrganizationFirst).slice(0, limit);
      }),

    deleteOrganization: (orgId) => run((deadlineAt) => deleteOrganization(deadlineAt, orgId)),

    addIssuerRegistration: (record) =>
      run(async (deadlineAt) => {
        await upgradeOrganization(deadlineAt, record.orgId);
        await upgradeIssuer(deadlineAt, record.issuer);
        return withLocks([key.issuerRegistrations(record.issuer), key.orgIssuers(record.orgId)], async () => {
          const sameIssuer = await registrationsOfIssuer(deadlineAt, record.issuer);
          const conflict = storeKit.issuerRegistrationConflict(sameIssuer, record);
          if (conflict) return conflict;
          await set(deadlineAt, key.orgIssuers(record.orgId), [
            ...(await orgIndex(deadlineAt, record.orgId)),
            indexEntry(record),
          ]);
          await set(deadlineAt, key.issuerRegistrations(record.issuer), [...sameIssuer, record]);
          return 'added' as const;
        });
      }),

    listIssuerRegistrations: (orgId) =>
      run(async (deadlineAt) => {
        await upgradeOrganization(deadlineAt, orgId);
        const found: IssuerRegistrationRecord[] = [];
        for (const issuer of new Set((await orgIndex(deadlineAt, orgId)).map((entry) => entry.issuer))) {
          found.push(
            ...(await registrationsOfIssuer(deadlineAt, issuer)).filter(
              (registration) => registration.orgId === orgId,
            ),
          );
        }
        return storeKit.sortedBy(found, storeKit.oldestRegistrationFirst);
      }),

    findIssuerRegistrations: (issuer) =>
      run(async (deadlineAt) => {
        await upgradeIssuer(deadlineAt, issuer);
        return storeKit.sortedBy(
          await registrationsOfIssuer(deadlineAt, issuer),
          storeKit.oldestRegistrationFirst,
        );
      }),

    replaceIssuerPolicy: (orgId, registrationId, policy, now) =>
      run(async (deadlineAt) => {
        await upgradeOrganization(deadlineAt, orgId);
        const entry = (await orgIndex(deadlineAt, orgId)).find(
          (candidate) => candidate.registrationId === registrationId,
        );
        if (!entry) return 'not_found';
        return withLocks([key.issuerRegistrations(entry.issuer), key.orgIssuers(orgId)], async () => {
          const sameIssuer = await registrationsOfIssuer(deadlineAt, entry.issuer);
          const current = sameIssuer.find(
            (registration) => registration.registrationId === registrationId && registration.orgId === orgId,
          );
          if (!current) return 'not_found';
          if (storeKit.policyOf(current).version !== policy.version - 1) return 'version_conflict';
          const updated: IssuerRegistrationRecord = { ...current, policy, updatedAt: now };
          await set(
            deadlineAt,
            key.issuerRegistrations(entry.issuer),
            sameIssuer.map((registration) => (registration === current ? updated : registration)),
          );
          return updated;
        });
      }),

    removeIssuerRegistration: (orgId, registrationId) =>
      run(async (deadlineAt) => {
        await upgradeOrganization(deadlineAt, orgId);
        const entry = (await orgIndex(deadlineAt, orgId)).find(
          (candidate) => candidate.registrationId === registrationId,
        );
        if (!entry) return false;
        return withLocks([key.issuerRegistrations(entry.issuer), key.orgIssuers(orgId)], async () => {
          const index = await orgIndex(deadlineAt, orgId);
          if (!index.some((candidate) => candidate.registrationId === registrationId)) return false;
          const sameIssuer = await registrationsOfIssuer(deadlineAt, entry.issuer);
          // The lookup first: a registration stops being used before it stops being listed.
          await set(
            deadlineAt,
            key.issuerRegistrations(entry.issuer),
            sameIssuer.filter((registration) => registration.registrationId !== registrationId),
          );
          await set(
            deadlineAt,
            key.orgIssuers(orgId),
            index.filter((candidate) => candidate.registrationId !== registrationId),
          );
          return true;
        });
      }),

    addApiKey: (record) =>
      run((deadlineAt) =>
        withLocks([key.apiKeys(record.orgId)], async () => {
          const keys = (await get<ApiKeyRecord[]>(deadlineAt, key.apiKeys(record.orgId))) ?? [];
          await set(deadlineAt, key.apiKeys(record.orgId), [...keys, record]);
        }),
      ),

    listActiveApiKeys: (orgId) =>
      run(async (deadlineAt) => {
        const keys = (await get<ApiKeyRecord[]>(deadlineAt, key.apiKeys(orgId))) ?? [];
        return storeKit.sortedBy(
          keys.filter((record) => record.revokedAt === null),
          storeKit.oldestApiKeyFirst,
        );
      }),

    revokeApiKey: (orgId, keyId, now) =>
      run((deadlineAt) =>
        withLocks([key.apiKeys(orgId)], async () => {
          const keys = (await get<ApiKeyRecord[]>(deadlineAt, key.apiKeys(orgId))) ?? [];
          const target = keys.find((record) => record.keyId === keyId);
          if (!target || target.revokedAt !== null) return false;
          target.revokedAt = now;
          await set(deadlineAt, key.apiKeys(orgId), keys);
          return true;
        }),
      ),
  };
}

function indexEntry(registration: IssuerRegistrationRecord): OrgIssuerEntry {
  return { registrationId: registration.registrationId, issuer: registration.issuer };
}

/** The organization without the issuer fields records carried before issuer registrations. */
function organizationFields(org: OrganizationRecord): OrganizationRecord {
  return storeKit.withOrganizationDefaults({
    orgId: org.orgId,
    name: org.name,
    audience: org.audience,
    provisioning: org.provisioning,
    suspendedAt: org.suspendedAt,
    dpopBoundAccessTokens: org.dpopBoundAccessTokens,
    ...(org.endedRegistrations === undefined ? {} : { endedRegistrations: org.endedRegistrations }),
    createdAt: org.createdAt,
    updatedAt: org.updatedAt,
  });
}
