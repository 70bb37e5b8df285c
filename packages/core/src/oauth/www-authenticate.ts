import type { OAuthErrorBody } from './oauth-error.js';

// The realm of every challenge the service sends, as its Bearer and API-key challenges say.
const REALM = 'rialto';

/** Authentication schemes of the OAuth surface's challenges. */
export type ChallengeScheme = 'Basic' | 'Bearer' | 'DPoP';

/**
 * One `WWW-Authenticate` challenge (RFC 9110 §11.6.1) with quoted parameters; parameters whose value
 * is `undefined` are left out.
 */
export function challenge(scheme: ChallengeScheme, parameters: Record<string, string | undefined>): string {
  const rendered = Object.entries({ realm: REALM, ...parameters })
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}="${value.replace(/[\\"]/g, '\\$&')}"`);
  return `${scheme} ${rendered.join(', ')}`;
}

/** RFC 6749 §5.2: a failed HTTP Basic client authentication is answered with a Basic challenge. */
export function basicChallenge(body: OAuthErrorBody): string {
  return challenge('Basic', { error: body.error, error_description: body.error_description });
}
