import type {
  ApiKeyRecord,
  ConsoleSessionRecord,
  IssuerRegistrationRecord,
  OrganizationRecord,
  RefreshTokenRecord,
  SigningKeyRecord,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { FAMILY_REVOCATION_MIN_SECONDS } from '../internal/retention.js';

/** Everything a memory store holds; each capability reads and writes its part. */
export interface MemoryState {
  organizations: Map<string, OrganizationRecord>;
  issuerRegistrations: Map<string, IssuerRegistrationRecord>;
  apiKeys: Map<string, ApiKeyRecord[]>;
  users: Map<string, UserRecord>;
  userIdByIdentity: Map<string, string>;
  userIdByEmail: Map<string, string>;
  /** Live refresh tokens; once used, a token moves to `usedRefreshTokens` until it expires. */
  refreshTokens: Map<string, RefreshTokenRecord>;
  usedRefreshTokens: Map<string, { familyId: string; successorJti: string; expiresAt: number }>;
  familyRevokedAt: Map<string, number>;
  consumedUntil: Map<string, number>;
  signingKeys: SigningKeyRecord[];
  subscriptions: Map<string, WebhookSubscriptionRecord>;
  deliveries: Map<string, WebhookDeliveryRecord>;
  consoleSessions: Map<string, ConsoleSessionRecord>;
}

export function createMemoryState(): MemoryState {
  return {
    organizations: new Map(),
    issuerRegistrations: new Map(),
    apiKeys: new Map(),
    users: new Map(),
    userIdByIdentity: new Map(),
    userIdByEmail: new Map(),
    refreshTokens: new Map(),
    usedRefreshTokens: new Map(),
    familyRevokedAt: new Map(),
    consumedUntil: new Map(),
    signingKeys: [],
    subscriptions: new Map(),
    deliveries: new Map(),
    consoleSessions: new Map(),
  };
}

export function subscriptionsOf(state: MemoryState, orgId: string): WebhookSubscriptionRecord[] {
  return [...state.subscriptions.values()].filter((subscription) => subscription.orgId === orgId);
}

/** Records events as deliveries, fanned out as `enqueueWebhookEvents` does. */
export function enqueue(state: MemoryState, events: readonly WebhookEventRecord[] = []): void {
  for (const delivery of storeKit.webhookDeliveriesFor(events, (orgId) => subscriptionsOf(state, orgId)))
    state.deliveries.set(delivery.deliveryId, delivery);
}

/** Removes a user with its email entry and identity links. */
export function removeUser(state: MemoryState, user: UserRecord): void {
  state.users.delete(user.userId);
  state.userIdByEmail.delete(storeKit.emailKey(user.orgId, user.email));
  for (const [identity, linkedUserId] of state.userIdByIdentity) {
    if (linkedUserId === user.userId) state.userIdByIdentity.delete(identity);
  }
}

/** Unconsumed tokens and old revocations would otherwise accumulate for the life of the process. */
export function sweep(state: MemoryState, now: number): void {
  for (const [jti, record] of state.refreshTokens)
    if (record.expiresAt <= now) state.refreshTokens.delete(jti);
  for (const [jti, used] of state.usedRefreshTokens)
    if (used.expiresAt <= now) state.usedRefreshTokens.delete(jti);
  for (const [familyId, revokedAt] of state.familyRevokedAt) {
    if (revokedAt + FAMILY_REVOCATION_MIN_SECONDS <= now) state.familyRevokedAt.delete(familyId);
  }
  for (const [key, expiresAt] of state.consumedUntil) if (expiresAt <= now) state.consumedUntil.delete(key);
}
