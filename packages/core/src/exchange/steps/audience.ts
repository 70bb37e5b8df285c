import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';
import { checkIdTokenAudience } from '../id-token-audience.js';

/** The token was issued to a client the organization registered for its issuer. */
export const audienceStep = defineStep({
  name: 'audience',
  errors: ['invalid_audience'],
  run(ctx) {
    checkIdTokenAudience(established(ctx.idToken).payload, established(ctx.registration).clientIds);
  },
  explain: {
    kind: 'check',
    seen: ({ idToken, registration }) => ({
      aud: idToken?.payload.aud,
      azp: idToken?.payload.azp,
      client_ids: registration?.clientIds,
    }),
    fixes: {
      invalid_audience:
        'The aud claim must name only client ids registered for your organization, and with several audiences azp must name one of them: request the token for your registered client, or have its client id registered.',
    },
  },
});
