import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/**
 * The organization's registration of the token's issuer (and of a client in its audience): only a
 * registered issuer is ever fetched from.
 */
export const issuerStep = defineStep({
  name: 'issuer',
  errors: ['invalid_issuer', 'issuer_not_registered', 'org_mismatch', 'temporarily_unavailable'],
  async run(ctx) {
    const { payload } = established(ctx.idToken);
    ctx.registration = await ctx.deps.issuers.resolve(established(ctx.orgId), payload.iss, payload.aud);
  },
  explain: {
    kind: 'check',
    seen: ({ idToken, registration }) => ({
      iss: idToken?.payload.iss,
      aud: idToken?.payload.aud,
      registration_id: registration?.registrationId,
      registered_issuer: registration?.issuer,
    }),
    fixes: {
      invalid_issuer: 'The token has no iss claim; send the ID token your identity provider issued.',
      issuer_not_registered:
        "The token's issuer (iss) is not registered for your organization: ask the service operator to register it, with your client id; it must match the registered URL exactly, apart from one trailing slash.",
      org_mismatch:
        "This issuer and client are registered to another organization: use that organization's API key, or have this client id registered for yours.",
    },
  },
});
