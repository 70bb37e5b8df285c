import { createHmac } from 'node:crypto';
import { RialtoError } from '../errors.js';
import type { ExchangeInput } from '../exchange/exchange-context.js';
import { type ExchangeExplanation, explainExchange } from '../exchange/explain-exchange.js';
import { secretsEqual } from '../http/messages.js';
import { isUuid } from '../internal/is-uuid.js';
import { clientAddressKey } from '../limits/client-address-key.js';
import { enforceRateLimit } from '../limits/rate-limit.js';
import { refusedFor, type Services } from '../services.js';
import type { ApiKeyRecord, WebhookDeliveryRecord, WebhookSubscriptionRecord } from '../store/store.js';
import { existingOrganization, noSuchOrganization } from './organizations.js';

/** An API key as an operator may see it: never its hash. */
export type ApiKeySummary = Omit<ApiKeyRecord, 'hash'>;

/** A webhook subscription as an operator may see it: never its signing secrets. */
export type WebhookSummary = Omit<WebhookSubscriptionRecord, 'secret' | 'previousSecret'>;

/**
 * What an operator's tool (the admin console, a support script) needs beside the other groups:
 * signing an operator in with the admin token, and reading an organization's keys, webhooks and
 * token problems as the service admin rather than as the organization.
 */
export interface RialtoOperators {
  /**
   * Checks an admin token typed into a sign-in form, in constant time, as the admin routes check
   * the bearer token. Every attempt from `clientAddress` spends the per-address limit first, so
   * refused guesses are limited like the exchange's unauthenticated calls.
   * @returns the fingerprint of the admin credential, to store with the session it opens
   * @throws RialtoError `unauthorized` for a wrong token (or no admin token configured),
   *   `rate_limited` when the address is over its limit
   */
  signInWithAdminToken(token: string, clientAddress: string | undefined): Promise<string>;
  /**
   * The fingerprint of the configured admin token (an HMAC of it, useless to guess it from), or
   * `undefined` when none is configured. A session opened with another fingerprint was opened
   * with a token since rotated, and ends.
   */
  adminTokenFingerprint(): string | undefined;
  /** The organization's API keys that authenticate now, oldest first. @throws RialtoError `not_found` */
  activeApiKeys(orgId: string): Promise<ApiKeySummary[]>;
  /** The organization's webhook subscriptions, without secrets. @throws RialtoError `not_found` */
  webhooks(orgId: string): Promise<WebhookSummary[]>;
  /** A subscription's most recent deliveries (50 at most), newest first. @throws RialtoError `not_found` */
  webhookDeliveries(orgId: string, webhookId: string): Promise<WebhookDeliveryRecord[]>;
  /**
   * The token debugger as the service admin runs it: every step of the exchange for `idToken` as
   * if the organization's API key had sent it, with each failing step's fix. Writes and mints nothing.
   * @throws RialtoError `not_found` for an unknown organization, else as `POST /identity/auth/exchange/explain`
   */
  explain(orgId: string, idToken: string): Promise<ExchangeExplanation>;
  /**
   * Fetches (or reads from the cache) the OpenID configuration of one of the organization's
   * registered issuers, as the exchange will: advisory, for showing an operator what was found or
   * why it failed right after registering. Only registered issuers are fetched, with the exchange's
   * own bounds.
   * @throws RialtoError `not_found` when the organization has no such registration
   */
  checkIssuerDiscovery(orgId: string, registrationId: string): Promise<DiscoveryCheck>;
}

/** What an issuer's discovery document said, or why it could not be used. */
export type DiscoveryCheck =
  | { found: true; issuer: string; jwksUri: string }
  | { found: false; reason: string };

const FINGERPRINT_LABEL = 'rialto-exchange admin credential fingerprint';

export function createOperatorsFacade(services: Services): RialtoOperators {
  const { options, organizations, issuers, store, webhookSubscriptions, ipLimiter, telemetry, exchange } =
    services;
  const onRefused = refusedFor(telemetry.metrics, 'client_address');
  const fingerprint = (token: string) =>
    createHmac('sha256', FINGERPRINT_LABEL).update(token).digest('base64url').slice(0, 32);

  async function existingOrgId(orgId: string): Promise<string> {
    return existingOrganization(isUuid(orgId) ? await organizations.get(orgId) : null).orgId;
  }

  return {
    async signInWithAdminToken(token, clientAddress) {
      if (clientAddress !== undefined) {
        const key = clientAddressKey(clientAddress, options.rateLimit.ipv6PrefixLength);
        enforceRateLimit(ipLimiter, key, 'this client address', onRefused);
      }
      const { adminToken } = options;
      if (adminToken === undefined || !secretsEqual(token, adminToken)) {
        throw new RialtoError('unauthorized', 'That is not the admin token.');
      }
      return fingerprint(adminToken);
    },
    adminTokenFingerprint: () =>
      options.adminToken === undefined ? undefined : fingerprint(options.adminToken),
    async activeApiKeys(orgId) {
      const keys = await store.listActiveApiKeys(await existingOrgId(orgId));
      return keys.map(({ hash: _hash, ...key }) => key);
    },
    async webhooks(orgId) {
      const subscriptions = await webhookSubscriptions.list(await existingOrgId(orgId));
      return subscriptions.map(({ secret: _secret, previousSecret: _previous, ...summary }) => summary);
    },
    async webhookDeliveries(orgId, webhookId) {
      if (!isUuid(webhookId)) throw new RialtoError('not_found', 'No such webhook in your organization.');
      return webhookSubscriptions.listDeliveries(await existingOrgId(orgId), webhookId);
    },
    async explain(orgId, idToken) {
      if (!isUuid(orgId)) throw noSuchOrganization();
      // The admin stands in for the organization's API key; the organization's standing is still a
      // step of its own, so a suspended organization is explained as the exchange would refuse it.
      const input: ExchangeInput = {
        authenticateClient: async () => existingOrgId(orgId),
        readIdToken: () => idToken,
      };
      return explainExchange(exchange, input);
    },
    async checkIssuerDiscovery(orgId, registrationId) {
      const registrations = await issuers.list(await existingOrgId(orgId));
      const registration = registrations.find((candidate) => candidate.registrationId === registrationId);
      if (!registration)
        throw new RialtoError('not_found', 'No such issuer registration in this organization.');
      try {
        const metadata = await exchange.deps.discovery.getMetadata(registration.issuer);
        return { found: true, issuer: metadata.issuer, jwksUri: metadata.jwksUri.href };
      } catch (error) {
        return { found: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}
