import type { RialtoAccessTokenClaims } from '../tokens/mint-tokens.js';
import { MAX_CLAIM_NAME_CHARS } from './policy-limits.js';

// Every claim the minter writes: a mapping or a hook naming one would overwrite the exchange's own
// statement about the user, its org or the token. A record over the claims' type, so a new
// access-token claim fails to compile until it is listed here.
const MINTED_CLAIMS: Record<keyof RialtoAccessTokenClaims, true> = {
  iss: true,
  sub: true,
  aud: true,
  iat: true,
  exp: true,
  jti: true,
  scope: true,
  org_id: true,
  org_name: true,
  user_id: true,
  email: true,
  org_role: true,
  onboarding_completed: true,
  kyc_completed: true,
  accredited: true,
  accreditation_verified: true,
  client_id: true,
  cnf: true,
};

/**
 * Claim names the exchange owns: what it mints, the rest of RFC 7519 §4.1 (`nbf`), what OAuth
 * resource servers act on (`azp`, `client_id`; `cnf` from DPoP, RFC 9449; `act` and `may_act` from
 * token exchange, RFC 8693 §4.1 and §4.4) and the authentication information of RFC 9068 §2.2.1
 * (`auth_time`, `acr`, `amr`), which a resource server may trust for step-up decisions and which a
 * mapping could otherwise forge.
 */
export const RESERVED_CLAIM_NAMES: ReadonlySet<string> = new Set<string>([
  ...Object.keys(MINTED_CLAIMS),
  'nbf',
  'azp',
  'client_id',
  'cnf',
  'act',
  'may_act',
  'auth_time',
  'acr',
  'amr',
]);

// Letters, marks, digits, punctuation and symbols only: no whitespace, no C0/C1 controls and no
// format characters (Unicode category Cf: the bidirectional overrides U+202A–U+202E and isolates
// U+2066–U+2069, zero-width U+200B–U+200D, U+FEFF), which would let two names look alike in logs,
// the CLI and a console (the "Trojan Source" display attacks, CVE-2021-42574).
const CLAIM_NAME = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]+$/u;

/** Why a name cannot be a custom claim; `isQuotable` when the name itself is safe to show. */
export interface ClaimNameProblem {
  reason: string;
  isQuotable: boolean;
}

/**
 * Why `name` cannot be a custom access-token claim, or `null` when it can. Reserved names are
 * compared case-insensitively: a resource server that reads claims without regard to case must
 * not see a mapped `Sub` as the subject.
 * @example
 * claimNameProblem('department') // null
 * claimNameProblem('email') // { reason: 'is a claim the exchange sets itself', isQuotable: true }
 */
export function claimNameProblem(name: string): ClaimNameProblem | null {
  if (name.length === 0 || name.length > MAX_CLAIM_NAME_CHARS) {
    return { reason: `must be 1 to ${MAX_CLAIM_NAME_CHARS} characters long`, isQuotable: false };
  }
  if (!CLAIM_NAME.test(name)) {
    return {
      reason:
        'must consist of letters, digits, punctuation and symbols, without spaces, control or invisible format characters',
      isQuotable: false,
    };
  }
  if (RESERVED_CLAIM_NAMES.has(name.toLowerCase())) {
    return { reason: 'is a claim the exchange sets itself', isQuotable: true };
  }
  return null;
}
