import { RialtoError } from '../errors.js';
import type { ExchangeInput } from '../exchange/exchange-context.js';
import { type ExchangeExplanation, explainExchange } from '../exchange/explain-exchange.js';
import { isUuid } from '../internal/is-uuid.js';
import type { Services } from '../services.js';
import { existingOrganization, noSuchOrganization } from './organizations.js';

/** What an issuer's discovery document said, or why it could not be used. */
export type DiscoveryCheck =
  | { found: true; issuer: string; jwksUri: string }
  | { found: false; reason: string };

/**
 * What an operator's tool (the admin console, a support script) needs beside the other groups:
 * limiting sign-in attempts, the token debugger as the service admin, and an advisory look at a
 * registered issuer's discovery document.
 */
export interface RialtoOperators {
  /**
   * Spends one request of `clientAddress`'s per-address budget (the `rateLimit.perIp` limit of the
   * exchange's unauthenticated routes) before a sign-in attempt, so guessing the admin token
   * from one address is limited like any unauthenticated call. Does nothing without an address.
   * @throws RialtoError `rate_limited` when the address is over its limit
   */
  admitSignInAttempt(clientAddress: string | undefined): void;
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

export function createOperatorsFacade(services: Services): RialtoOperators {
  const { organizations, issuers, addressLimit, exchange } = services;

  async function existingOrgId(orgId: string): Promise<string> {
    return existingOrganization(isUuid(orgId) ? await organizations.get(orgId) : null).orgId;
  }

  return {
    admitSignInAttempt(clientAddress) {
      addressLimit.admit({ ip: clientAddress });
    },
    async explain(orgId, idToken) {
      if (!isUuid(orgId)) throw noSuchOrganization();
      // The admin stands in for the organization's API key; the organization's standing is still a
      // step of its own, so a suspended organization is explained as the exchange would refuse it.
      const input: ExchangeInput = {
        authenticateClient: async () => existingOrgId(orgId),
        readIdToken: () => idToken,
        // As the seed exchange: the organization's whole audience, no DPoP key.
        grant: () => undefined,
        grantType: 'exchange',
      };
      return explainExchange(exchange, input);
    },
    async checkIssuerDiscovery(orgId, registrationId) {
      const registrations = await issuers.list(await existingOrgId(orgId));
      const registration = registrations.find((candidate) => candidate.registrationId === registrationId);
      if (!registration) {
        throw new RialtoError('not_found', 'No such issuer registration in this organization.');
      }
      try {
        const metadata = await exchange.deps.discovery.getMetadata(registration.issuer);
        return { found: true, issuer: metadata.issuer, jwksUri: metadata.jwksUri.href };
      } catch (error) {
        return { found: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}
