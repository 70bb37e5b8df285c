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
  // The debugger reports the exchange's own checks of the token, for either way in.
  explain: { kind: 'omit' },
});
