import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/**
 * What the way in grants: the token endpoint's audience narrowing and DPoP binding (its OAuth
 * errors are its own), or the seed route's refusal of an organization whose tokens must be bound.
 * After every check of the token, so a refused token is answered as such; before any write but
 * the DPoP proof's single use.
 */
export const grantStep = defineStep({
  name: 'grant',
  errors: ['invalid_request'],
  async run(ctx) {
    ctx.grant = await ctx.input.grant(established(ctx.org));
  },
  // The debugger runs the way in's own grant, its proof taken as sent but not checked (see `ExchangeInput.grant`).
  explain: {
    kind: 'check',
    seen: (ctx) => ({
      grant_type: ctx.input.grantType,
      audience: ctx.grant?.audience ?? ctx.org?.audience,
      dpop_required: ctx.org?.dpopBoundAccessTokens === true,
    }),
    fixes: {
      invalid_request:
        "This organization's access tokens must be DPoP-bound: exchange at POST /oauth/token with a DPoP proof, or turn dpop_bound_access_tokens off for the organization.",
      invalid_target:
        "Ask only for audiences the organization has (its audience setting, `identity` always included), by name in `audience` or by a URI the service's resourceAudiences option maps; or add the audience to the organization.",
      invalid_scope:
        'List in `scope` only `aud:<name>` for audiences the organization has and the OpenID scopes (openid, email, profile), separated by single spaces.',
      invalid_dpop_proof:
        'Send a DPoP proof (RFC 9449 §4) for POST /oauth/token with the request: this organization gets DPoP-bound tokens only.',
    },
  },
});
