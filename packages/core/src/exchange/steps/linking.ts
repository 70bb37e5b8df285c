import { RialtoError } from '../../errors.js';
import { linkScopeOf } from '../../store/kit/link-scope.js';
import type { OrganizationRecord } from '../../store/store.js';
import { previewProvisioning, provisionUser } from '../../users/provision-user.js';
import { type ExchangeContext, established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/**
 * Finds the organization's user for the identity, or links or creates one, as the org's
 * provisioning mode and the issuer's linking rules allow. The debugger previews it, writing nothing.
 */
export const linkingStep = defineStep({
  name: 'linking',
  errors: ['account_conflict', 'user_not_provisioned', 'invalid_api_key', 'temporarily_unavailable'],
  async run(ctx) {
    const org = await currentOrg(ctx);
    const provisioned = await provisionUser(
      ctx.deps.store,
      org,
      established(ctx.identity),
      established(ctx.registration),
    );
    ctx.provisioned = provisioned;
    if (provisioned.created) {
      ctx.deps.events.emit('user.created', { orgId: org.orgId, userId: provisioned.user.userId });
    }
  },
  explain: {
    kind: 'preview',
    async preview(ctx) {
      const org = await currentOrg(ctx);
      ctx.provisioningPreview = await previewProvisioning(
        ctx.deps.store,
        org,
        established(ctx.identity),
        established(ctx.registration),
      );
    },
    seen: ({ registration, org, provisioningPreview }) => ({
      email_linking: registration?.emailLinking,
      trust_username_claims: registration?.trustUsernameClaims,
      link_scope: registration === undefined ? undefined : linkScopeOf(registration),
      provisioning: org?.provisioning,
      outcome: provisioningPreview?.outcome,
      user_id: provisioningPreview?.outcome === 'existing' ? provisioningPreview.user.userId : undefined,
    }),
    fixes: {
      account_conflict:
        "A user with this email already exists and this issuer's linking policy refuses to attach a new identity to it: have the provider send email with email_verified true, ask the operator to change the issuer's email_linking (or its link_scope, when the user was first seen through another issuer), or remove the older user.",
      user_not_provisioned:
        'Your organization only signs in users created beforehand: create the user with this email first (admin API or CLI).',
      invalid_api_key: 'Your organization was deleted while the token was checked; ask the service operator.',
    },
  },
});

/**
 * The organization as it is now: verification may have waited on the IdP, and a user must not be
 * created for an organization deleted meanwhile.
 */
async function currentOrg(ctx: ExchangeContext): Promise<OrganizationRecord> {
  const org = await ctx.deps.organizations.get(established(ctx.orgId));
  if (!org) throw new RialtoError('invalid_api_key');
  ctx.org = org;
  return org;
}
