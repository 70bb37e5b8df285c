import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/** The service's own access token and a refresh token that starts a new family (recorded). */
export const mintingStep = defineStep({
  name: 'minting',
  errors: ['temporarily_unavailable'],
  async run(ctx) {
    ctx.tokens = await ctx.deps.minter.mint(established(ctx.org), established(ctx.provisioned).user, {
      grant: ctx.grant,
      customClaims: ctx.policy?.claims,
      registrationId: ctx.registration?.registrationId,
    });
  },
  explain: { kind: 'omit' },
});
