import { RialtoError } from '../../errors.js';
import { validateInput } from '../../internal/validate-input.js';
import { issuerPolicyRecord } from '../../issuers/issuer-policies.js';
import type { CompiledPolicy } from '../../policy/compile-policy.js';
import { compileExchangePolicy } from '../../policy/compile-policy.js';
import type { JsonValue } from '../../policy/custom-claims.js';
import { evaluateExchangePolicy } from '../../policy/evaluate-policy.js';
import { exchangePolicySchema } from '../../policy/policy-schema.js';
import { policyOf } from '../../store/kit/legacy-defaults.js';
import { findLinkedUser } from '../../users/provision-user.js';
import { type ExchangeContext, established, type PolicyResult } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/**
 * The issuer's exchange policy and the host's hook, over the verified claims: after every check of
 * the token, before anything is written, so a refusal leaves no user, no consumed token and no
 * user event. The condition (false or failing) and the hook may deny (`403 access_denied`, naming
 * the policy version and never a claim value); the mappings and the hook add the access token's
 * custom claims. The debugger runs the same with `dryRun`, on the stored policy or a draft one.
 */
export const policyStep = defineStep({
  name: 'policy',
  errors: ['access_denied', 'temporarily_unavailable', 'server_error'],
  run: (ctx) => applyPolicy(ctx, false),
  explain: {
    kind: 'preview',
    preview: (ctx) => applyPolicy(ctx, true),
    seen: ({ policy }) => (policy ? policySeen(policy) : {}),
    fixes: {
      access_denied:
        "The issuer's exchange policy refused this identity: the seen condition_result and hook say which part. Sign in with an account the policy admits, or ask the service operator to change the policy (PATCH /identity/organizations/{org_id}/issuers/{issuer_id}); try a change first by sending it as `policy` to this debugger.",
    },
  },
});

async function applyPolicy(ctx: ExchangeContext, dryRun: boolean): Promise<void> {
  const registration = established(ctx.registration);
  const org = established(ctx.org);
  const claims = established(ctx.idToken).payload as Record<string, unknown>;
  const draft = dryRun ? draftPolicy(ctx) : undefined;
  const compiled = draft === undefined ? ctx.deps.policies.of(registration) : draft;
  const version = draft === undefined ? policyOf(registration).version : 'draft';
  const result: PolicyResult = {
    version,
    isDryRun: dryRun,
    evaluation: null,
    hook: ctx.deps.runPolicyHook ? 'not_run' : 'none',
    claims: {},
  };
  ctx.policy = result;
  const input = { claims, issuer: registration.issuer, org: { id: org.orgId, name: org.name } };
  let customClaims: Record<string, JsonValue> = {};
  if (compiled) {
    const evaluation = evaluateExchangePolicy(compiled, input, { evaluateMappingsWhenDenied: dryRun });
    result.evaluation = evaluation;
    if (!evaluation.admitted) {
      const { condition } = evaluation;
      const why =
        condition?.status === 'error'
          ? `its condition could not be evaluated (${condition.reason}), which denies`
          : 'its condition is false for this identity';
      throw new RialtoError('access_denied', `${describeVersion(version)} refused the identity: ${why}.`);
    }
    customClaims = evaluation.claims;
  }
  const { runPolicyHook } = ctx.deps;
  if (runPolicyHook) {
    const user = await findLinkedUser(ctx.deps.store, org.orgId, established(ctx.identity));
    const outcome = await runPolicyHook({ ...input, user, dryRun }, customClaims);
    result.hook = outcome;
    if (outcome.status === 'denied') {
      throw new RialtoError(
        'access_denied',
        `The exchange policy hook refused the identity: ${outcome.reason}`,
      );
    }
    customClaims = outcome.claims;
  }
  result.claims = customClaims;
}

function describeVersion(version: number | 'draft'): string {
  return version === 'draft'
    ? "The draft policy of this issuer's registration"
    : `Policy version ${version} of this issuer`;
}

/**
 * The draft policy sent to the debugger, compiled; `undefined` when none was sent. A draft with
 * neither condition nor mappings is the empty policy (what removing both would do).
 * @throws RialtoError `invalid_request` as registration refuses the same fields
 */
function draftPolicy(ctx: ExchangeContext): CompiledPolicy | null | undefined {
  const raw = ctx.input.readDraftPolicy?.();
  if (raw === undefined) return undefined;
  const fields = validateInput(exchangePolicySchema, raw);
  const record = issuerPolicyRecord(fields, 0);
  if (record.condition === null && Object.keys(record.claimMappings).length === 0) return null;
  return compileExchangePolicy(record);
}

/** What the debugger shows of the policy: results, the mapped claims and why a mapping was left out. */
function policySeen({ version, isDryRun, evaluation, hook, claims }: PolicyResult): Record<string, unknown> {
  const condition = evaluation?.condition ?? null;
  return {
    policy_version: version,
    dry_run: isDryRun,
    condition_result: condition?.status ?? 'none',
    ...(condition?.status === 'error'
      ? { condition_error: { reason: condition.reason, position: condition.position } }
      : {}),
    mapped_claims: Object.fromEntries(
      (evaluation?.mappings ?? []).flatMap((mapping) =>
        mapping.status === 'mapped' ? [[mapping.name, mapping.value]] : [],
      ),
    ),
    mapping_errors: (evaluation?.mappings ?? []).flatMap((mapping) =>
      mapping.status === 'omitted'
        ? [{ claim: mapping.name, reason: mapping.reason, position: mapping.position }]
        : [],
    ),
    hook: typeof hook === 'string' ? hook : hook.status,
    ...(typeof hook === 'object' && hook.status === 'denied' ? { hook_reason: hook.reason } : {}),
    custom_claims: claims,
  };
}
