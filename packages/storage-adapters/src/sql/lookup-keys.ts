import { createHash } from 'node:crypto';
import { storeKit } from '@rialto-exchange/core';

/**
 * The SHA-256 lookup columns (`*_key`), computed in one place so that the store and the migration
 * that copied older rows (migration 5) agree on every key. JSON arrays keep composite keys
 * unambiguous whatever characters the parts contain.
 */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function identityKey(orgId: string, iss: string, sub: string, subjectClaim?: string): string {
  return sha256(storeKit.identityKey(orgId, iss, sub, subjectClaim));
}

export function emailKey(orgId: string, email: string): string {
  return sha256(storeKit.emailKey(orgId, email));
}

/** One registration per organization and issuer. */
export function orgIssuerKey(orgId: string, issuer: string): string {
  return sha256(JSON.stringify([orgId, issuer]));
}

/** One registration per (issuer, client id) claimed. */
export function clientClaimKey(issuer: string, clientId: string): string {
  return sha256(JSON.stringify([issuer, clientId]));
}
