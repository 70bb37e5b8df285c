import { z } from 'zod';
import type { RefreshFamilySummary, UserIdentityRecord } from '../store/store.js';
import { apiSchemas } from './api-schemas.js';
import { isoTime } from './wire-format.js';

/** The bodies of a user's identities and sessions (`/identity/users/:user_id/identities|sessions`). */
export const userIdentitiesResponseSchema = z
  .strictObject({
    identities: z.array(
      z.strictObject({
        iss: z.string(),
        subject_claim: z.string().describe('The ID-token claim the subject is read from.'),
        sub: z.string().describe("The value of that claim: the user's id at the issuer."),
        linked_at: z.iso
          .datetime()
          .nullable()
          .describe('When it was linked; null where the store does not keep it.'),
      }),
    ),
  })
  .register(apiSchemas, { id: 'UserIdentities' });

export const userSessionsResponseSchema = z
  .strictObject({
    sessions: z.array(
      z.strictObject({
        session_id: z.uuid().describe('The refresh-token family: every token refreshed from one exchange.'),
        last_refreshed_at: z.iso.datetime().describe('When its live refresh token was issued.'),
        expires_at: z.iso.datetime().describe('When that token expires unless the session refreshes first.'),
      }),
    ),
  })
  .register(apiSchemas, { id: 'UserSessions' });

export const sessionEndedResponseSchema = z
  .strictObject({ session_id: z.uuid(), ended: z.literal(true) })
  .register(apiSchemas, { id: 'SessionEnded' });

export const sessionsEndedResponseSchema = z
  .strictObject({ ended: z.number().int().describe('How many sessions were ended.') })
  .register(apiSchemas, { id: 'SessionsEnded' });

export function userIdentitiesJson(
  identities: UserIdentityRecord[],
): z.infer<typeof userIdentitiesResponseSchema> {
  return {
    identities: identities.map((identity) => ({
      iss: identity.iss,
      subject_claim: identity.subjectClaim,
      sub: identity.sub,
      linked_at: identity.linkedAt === undefined ? null : isoTime(identity.linkedAt),
    })),
  };
}

export function userSessionsJson(
  sessions: RefreshFamilySummary[],
): z.infer<typeof userSessionsResponseSchema> {
  return {
    sessions: sessions.map((session) => ({
      session_id: session.familyId,
      last_refreshed_at: isoTime(session.lastIssuedAt),
      expires_at: isoTime(session.expiresAt),
    })),
  };
}
