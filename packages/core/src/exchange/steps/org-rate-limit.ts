import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/** The organization's request budget, shared by the fleet when the store can hold it. */
export const orgRateLimitStep = defineStep({
  name: 'org_rate_limit',
  errors: ['rate_limited'],
  run: (ctx) => ctx.deps.admitOrganization(established(ctx.orgId)),
  explain: {
    kind: 'gate',
    fixes: {
      // The debugger's caller also meets the per-address limit, which the route enforces first.
      rate_limited:
        'Too many requests from this address or organization: wait the seconds in Retry-After before trying again.',
    },
  },
});
