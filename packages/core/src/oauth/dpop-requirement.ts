import { RialtoError } from '../errors.js';
import type { OrganizationRecord } from '../store/store.js';

/**
 * RFC 9449 §5.2 for the ways that take no DPoP proof (the seed exchange, and refreshing a session
 * that is not bound): an organization whose access tokens must be DPoP-bound gets no unbound token
 * there, so the binding cannot be skipped. Nothing is used or written before this refusal.
 * @param remedy what the client does instead, naming the token endpoint
 * @throws RialtoError `invalid_request` when the organization requires bound tokens
 */
export function refuseUnboundTokens(
  org: Pick<OrganizationRecord, 'dpopBoundAccessTokens'>,
  remedy: string,
): void {
  if (org.dpopBoundAccessTokens === true) {
    throw new RialtoError(
      'invalid_request',
      `This organization's access tokens must be DPoP-bound: ${remedy} (RFC 9449).`,
    );
  }
}
