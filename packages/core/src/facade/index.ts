import type { Services } from '../services.js';
import { createApiKeysFacade, type RialtoApiKeys } from './api-keys.js';
import { createConsoleSessionsFacade, type RialtoConsoleSessions } from './console-sessions.js';
import { createHealthFacade, type RialtoHealth } from './health.js';
import { createIssuersFacade, type RialtoIssuers } from './issuers.js';
import { createOperatorsFacade, type RialtoOperators } from './operators.js';
import { createOrganizationsFacade, type RialtoOrganizations } from './organizations.js';
import { createKeysFacade, type RialtoKeys } from './signing-keys.js';
import { createUsersFacade, type RialtoUsers } from './users.js';
import { createWebhooksFacade, type RialtoWebhooks } from './webhooks.js';

export type { StartedConsoleSession } from './console-sessions.js';
export { changeIssuerPolicy } from './issuers.js';
export type { DiscoveryCheck, RialtoOperators } from './operators.js';
export type { ApiKeySummary, OrganizationOverview } from './organizations.js';
export { noSuchUser } from './users.js';
export type { WebhookSubscriptionSummary } from './webhooks.js';
export type {
  RialtoApiKeys,
  RialtoConsoleSessions,
  RialtoHealth,
  RialtoIssuers,
  RialtoKeys,
  RialtoOrganizations,
  RialtoUsers,
  RialtoWebhooks,
};

/**
 * What host code does beside serving requests, grouped by subject as `RialtoExchange` exposes it.
 * The admin routes and the CLI call these same functions, so each rule and each validation is
 * written once, whoever asks.
 */
export interface FacadeGroups {
  organizations: RialtoOrganizations;
  apiKeys: RialtoApiKeys;
  issuers: RialtoIssuers;
  users: RialtoUsers;
  keys: RialtoKeys;
  webhooks: RialtoWebhooks;
  health: RialtoHealth;
  consoleSessions: RialtoConsoleSessions;
  operators: RialtoOperators;
}

export function createFacadeGroups(services: Services): FacadeGroups {
  return {
    organizations: createOrganizationsFacade(services),
    apiKeys: createApiKeysFacade(services),
    issuers: createIssuersFacade(services),
    users: createUsersFacade(services),
    keys: createKeysFacade(services),
    webhooks: createWebhooksFacade(services),
    health: createHealthFacade(services),
    consoleSessions: createConsoleSessionsFacade(services),
    operators: createOperatorsFacade(services),
  };
}
