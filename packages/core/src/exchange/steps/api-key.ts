import { defineStep } from '../exchange-step.js';

/**
 * Client authentication, through the function the way in supplies: the seed route reads the
 * organization's API key from `X-API-Key`.
 */
export const apiKeyStep = defineStep({
  name: 'api_key',
  errors: ['missing_api_key', 'invalid_api_key', 'temporarily_unavailable'],
  async run(ctx) {
    ctx.orgId = await ctx.input.authenticateClient(ctx.deps.apiKeys);
  },
  explain: {
    kind: 'gate',
    seen: (ctx) => ({ org_id: ctx.orgId }),
    fixes: {
      missing_api_key: "Send your organization's API key in the X-API-Key header.",
      invalid_api_key:
        'Check the key value: copy it whole, with no surrounding whitespace or quotes. It may have been revoked; ask the service operator for a new key if it is lost.',
    },
  },
});
