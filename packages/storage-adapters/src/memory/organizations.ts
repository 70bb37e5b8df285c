import type { OrganizationStore } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { copy } from './copies.js';
import { type MemoryState, removeUser } from './state.js';

export function memoryOrganizations(state: MemoryState): OrganizationStore {
  const { organizations, issuerRegistrations, apiKeys } = state;
  const registrationsOfIssuer = (issuer: string) =>
    [...issuerRegistrations.values()].filter((registration) => registration.issuer === issuer);

  return {
    async createOrganization(org, firstKey, firstIssuer) {
      const conflict = storeKit.issuerRegistrationConflict(
        registrationsOfIssuer(firstIssuer.issuer),
        firstIssuer,
      );
      if (conflict === 'issuer_taken' || conflict === 'client_id_taken') return conflict;
      organizations.set(org.orgId, copy(org));
      apiKeys.set(org.orgId, [copy(firstKey)]);
      issuerRegistrations.set(firstIssuer.registrationId, copy(firstIssuer));
      return 'created';
    },

    async getOrganization(orgId) {
      const org = organizations.get(orgId);
      return org ? copy(org) : null;
    },

    async updateOrganization(orgId, patch, now) {
      const org = organizations.get(orgId);
      if (!org) return null;
      const updated = storeKit.applyOrganizationPatch(org, copy(patch), now);
      organizations.set(orgId, updated);
      return copy(updated);
    },

    async deleteOrganization(orgId) {
      const org = organizations.get(orgId);
      for (const [id, registration] of issuerRegistrations)
        if (registration.orgId === orgId) issuerRegistrations.delete(id);
      organizations.delete(orgId);
      apiKeys.delete(orgId);
      for (const user of [...state.users.values()]) if (user.orgId === orgId) removeUser(state, user);
      for (const [jti, record] of state.refreshTokens)
        if (record.orgId === orgId) state.refreshTokens.delete(jti);
      for (const [id, subscription] of state.subscriptions)
        if (subscription.orgId === orgId) state.subscriptions.delete(id);
      for (const [id, delivery] of state.deliveries)
        if (delivery.orgId === orgId) state.deliveries.delete(id);
      return org !== undefined;
    },

    async addIssuerRegistration(record) {
      const conflict = storeKit.issuerRegistrationConflict(registrationsOfIssuer(record.issuer), record);
      if (conflict) return conflict;
      issuerRegistrations.set(record.registrationId, copy(record));
      return 'added';
    },

    async listIssuerRegistrations(orgId) {
      return storeKit
        .sortedBy(
          [...issuerRegistrations.values()].filter((registration) => registration.orgId === orgId),
          storeKit.oldestRegistrationFirst,
        )
        .map(copy);
    },

    async findIssuerRegistrations(issuer) {
      return storeKit.sortedBy(registrationsOfIssuer(issuer), storeKit.oldestRegistrationFirst).map(copy);
    },

    async removeIssuerRegistration(orgId, registrationId) {
      if (issuerRegistrations.get(registrationId)?.orgId !== orgId) return false;
      return issuerRegistrations.delete(registrationId);
    },

    async listOrganizations({ query, after, limit }) {
      const matching = [...organizations.values()].filter(
        (org) =>
          storeKit.isAfterPosition(org.createdAt, org.orgId, after) &&
          storeKit.matchesOrganizationQuery(org, query),
      );
      return storeKit.sortedBy(matching, storeKit.newestOrganizationFirst).slice(0, limit).map(copy);
    },

    async addApiKey(key) {
      const keys = apiKeys.get(key.orgId) ?? [];
      keys.push(copy(key));
      apiKeys.set(key.orgId, keys);
    },

    async listActiveApiKeys(orgId) {
      const active = (apiKeys.get(orgId) ?? []).filter((key) => key.revokedAt === null);
      return storeKit.sortedBy(active, storeKit.oldestApiKeyFirst).map(copy);
    },

    async revokeApiKey(orgId, keyId, now) {
      const key = apiKeys.get(orgId)?.find((candidate) => candidate.keyId === keyId);
      if (!key || key.revokedAt !== null) return false;
      key.revokedAt = now;
      return true;
    },
  };
}
