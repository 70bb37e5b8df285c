import type { JWTPayload, ProtectedHeaderParameters } from 'jose';

/** Algorithms an organization may allow: asymmetric only, so an IdP's public key can never act as an HMAC secret. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** An ID token decoded but not verified yet: use its claims only to decide whom to ask. */
export interface UnverifiedIdToken {
  token: string;
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
}

/** The claims an email may be read from, in order of preference. */
export type EmailClaim = 'email' | 'preferred_username' | 'upn';

/** What a verified ID token says about the user. */
export interface VerifiedIdentity {
  iss: string;
  /** The value of the registration's subject claim (`sub` unless it names another). */
  sub: string;
  /** The name of that claim: identities are keyed by it too, so `oid` "x" and `sub` "x" are two people. */
  subjectClaim: string;
  /** As found in `emailClaim`; not yet normalized. */
  email: string;
  /**
   * Where `email` came from. Only `email` is an address the IdP may vouch for: `preferred_username`
   * and `upn` are user-editable on some IdPs (Azure AD), whatever `email_verified` says.
   */
  emailClaim: EmailClaim;
  /**
   * Whether the IdP vouches for `email`: `email_verified` as a boolean or the string "true"/"false"
   * some IdPs send; absent that, Azure AD's `xms_edov: true` (the tenant owns the email's domain)
   * counts as verified. `undefined` when the token says neither.
   */
  emailVerified: boolean | undefined;
}
