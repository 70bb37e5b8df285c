import type { RialtoErrorCode } from '../errors.js';
import type { OAuthExchangeGrantType } from '../exchange/exchange-context.js';
import type { IssuerPolicyDiff } from '../issuers/issuer-policies.js';
import type { PolicyChangedBy } from '../issuers/issuer-registrations.js';
import type { ProvisioningMode, SigningKeyUse, UserRole } from '../store/store.js';
import type { Logger } from './logger.js';

/**
 * Audit events and their payloads. Payloads never contain tokens, API keys or secrets, so
 * handlers may forward them to any log or SIEM as they are.
 */
export interface RialtoEventMap {
  'exchange.succeeded': {
    orgId: string;
    userId: string;
    issuer: string;
    userCreated: boolean;
    /** The OAuth token endpoint's grant; absent for the seed route `POST /identity/auth/exchange`. */
    grantType?: OAuthExchangeGrantType;
  };
  /**
   * `orgId` and `issuer` are present when the request got far enough to establish them. A refusal
   * only the OAuth token endpoint knows (`invalid_target`, `invalid_dpop_proof`, …) is `invalid_request`.
   */
  'exchange.failed': {
    code: RialtoErrorCode;
    status: number;
    orgId?: string;
    issuer?: string;
    grantType?: OAuthExchangeGrantType;
  };
  'user.created': { orgId: string; userId: string };
  /** A user's verification state changed; `eventTypes` are the webhook events it emitted. */
  'user.updated': { orgId: string; userId: string; eventTypes: string[] };
  /** An org admin role was granted or withdrawn. */
  'user.role_changed': { orgId: string; userId: string; role: UserRole };
  'refresh.succeeded': { orgId: string; userId: string; familyId: string };
  /** A consumed refresh token was presented again; its whole family has been revoked. */
  'refresh.reuse_detected': { orgId: string; userId: string; familyId: string };
  'refresh.revoked': { orgId: string; userId: string; familyId: string };
  'organization.created': { orgId: string; name: string; issuer: string };
  'organization.audience_updated': { orgId: string; audience: string[] };
  'organization.issuer_added': { orgId: string; registrationId: string; issuer: string };
  /** `endSessions`: the refresh families begun with the registration's tokens were ended too. */
  'organization.issuer_removed': {
    orgId: string;
    registrationId: string;
    issuer: string;
    endSessions: boolean;
  };
  /**
   * An issuer registration's exchange policy changed to `version`: the condition before and after,
   * the names of the mappings added, removed and changed, and who changed it (the admin API's
   * credential, or the host's code through the facade).
   */
  'organization.issuer_policy_changed': {
    orgId: string;
    registrationId: string;
    issuer: string;
    version: number;
    changes: IssuerPolicyDiff;
    changedBy: PolicyChangedBy;
  };
  'organization.suspended': { orgId: string };
  'organization.resumed': { orgId: string };
  /** The organization and everything stored for it were removed. */
  'organization.deleted': { orgId: string };
  'organization.provisioning_updated': { orgId: string; provisioning: ProvisioningMode };
  /** A user created beforehand, by `POST /identity/users`, not by an exchange. */
  'user.provisioned': { orgId: string; userId: string };
  /** A user, its identities and personal data were erased. */
  'user.deleted': { orgId: string; userId: string };
  'api_key.created': { orgId: string; keyId: string };
  'api_key.revoked': { orgId: string; keyId: string };
  'signing_key.rotated': { use: SigningKeyUse; kid: string };
}

export type RialtoEventType = keyof RialtoEventMap;
export type RialtoEventHandler<T extends RialtoEventType> = (
  payload: RialtoEventMap[T],
) => void | Promise<void>;

export interface RialtoEvents {
  /**
   * Subscribes to an event. A throwing or rejecting handler is logged and never affects the
   * request that emitted the event.
   * @returns a function that unsubscribes
   */
  on<T extends RialtoEventType>(type: T, handler: RialtoEventHandler<T>): () => void;
  emit<T extends RialtoEventType>(type: T, payload: RialtoEventMap[T]): void;
}

export function createEvents(logger: Logger): RialtoEvents {
  const handlers = new Map<RialtoEventType, Set<RialtoEventHandler<never>>>();

  function report(type: RialtoEventType, error: unknown) {
    logger.error({ err: error, event: type }, 'rialto-exchange event handler failed');
  }

  return {
    on(type, handler) {
      const set = handlers.get(type) ?? new Set();
      set.add(handler as RialtoEventHandler<never>);
      handlers.set(type, set);
      return () => set.delete(handler as RialtoEventHandler<never>);
    },
    emit(type, payload) {
      const set = handlers.get(type);
      if (!set) return;
      for (const handler of set) {
        try {
          const result = (handler as RialtoEventHandler<typeof type>)(payload);
          if (result instanceof Promise) result.catch((error: unknown) => report(type, error));
        } catch (error) {
          report(type, error);
        }
      }
    },
  };
}
