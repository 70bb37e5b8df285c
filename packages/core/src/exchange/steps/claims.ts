import type { JWTPayload } from 'jose';
import { RialtoError } from '../../errors.js';
import { unprintableReason } from '../../internal/control-characters.js';
import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';
import type { VerifiedIdentity } from '../id-token.js';

const EMAIL_CLAIMS = ['email', 'preferred_username', 'upn'] as const;
const LOOKS_LIKE_EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * The subject and email of a verified payload.
 * @throws RialtoError `invalid_token` when either is missing or holds control or invisible formatting characters
 */
export function readIdentity(payload: JWTPayload, subjectClaim: string): VerifiedIdentity {
  const subject = payload[subjectClaim];
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new RialtoError('invalid_token', `The token must contain a ${subjectClaim} claim.`);
  }
  for (const claim of new Set(['sub', subjectClaim, ...EMAIL_CLAIMS])) {
    const value = payload[claim];
    const reason = typeof value === 'string' ? unprintableReason(value) : null;
    if (reason !== null) throw new RialtoError('invalid_token', `The token's ${claim} claim ${reason}.`);
  }
  const emailClaim = EMAIL_CLAIMS.find((claim) => {
    const value = payload[claim];
    return typeof value === 'string' && LOOKS_LIKE_EMAIL.test(value.trim());
  });
  if (emailClaim === undefined) {
    throw new RialtoError(
      'invalid_token',
      'The token must contain an email in email, preferred_username or upn.',
    );
  }
  return {
    iss: payload.iss as string,
    sub: subject,
    subjectClaim,
    email: payload[emailClaim] as string,
    emailClaim,
    emailVerified: readEmailVerified(payload),
  };
}

function readEmailVerified(payload: JWTPayload): boolean | undefined {
  const claimed = payload.email_verified;
  // Some IdPs (older Cognito pools, custom claim mappers) send the boolean as a string; reading
  // "false" as absent would let the lenient policy link an address the IdP says is unverified.
  if (claimed === undefined) {
    // Azure AD omits email_verified; xms_edov: true says the tenant has verified the domain of the
    // email claim, which is what Microsoft recommends relying parties check against nOAuth.
    return payload.xms_edov === true ? true : undefined;
  }
  // Anything but an unambiguous true (null, 0, "no") is read as unverified, never as absent.
  return claimed === true || (typeof claimed === 'string' && claimed.toLowerCase() === 'true');
}

/** Who the user is: the registration's subject claim, an email, and whether the IdP vouches for it. */
export const claimsStep = defineStep({
  name: 'claims',
  errors: ['invalid_token'],
  run(ctx) {
    ctx.identity = readIdentity(established(ctx.idToken).payload, established(ctx.registration).subjectClaim);
  },
  explain: {
    kind: 'check',
    seen: ({ registration, identity }) => ({
      subject_claim: registration?.subjectClaim,
      sub: identity?.sub,
      email: identity?.email,
      email_claim: identity?.emailClaim,
      email_verified: identity?.emailVerified,
    }),
    fixes: {
      invalid_token:
        'The token must carry the user id in the subject claim and an email in email, preferred_username or upn: use the ID token rather than an access token, request the email scope, and make the provider include sub and email.',
    },
  },
});
