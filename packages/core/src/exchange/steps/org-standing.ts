import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/** The client's organization exists and is not suspended. */
export const orgStandingStep = defineStep({
  name: 'org_standing',
  errors: ['organization_suspended', 'invalid_api_key', 'temporarily_unavailable'],
  async run(ctx) {
    ctx.org = await ctx.deps.organizations.requireActive(established(ctx.orgId));
  },
  explain: {
    kind: 'gate',
    fixes: {
      organization_suspended: 'Your organization is suspended; ask the service operator to resume it.',
    },
  },
});
