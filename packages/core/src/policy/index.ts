/*
 * Exchange policy: per-issuer CEL conditions and claim mappings, and the host hook. Pure modules:
 * compile at registration, evaluate on each exchange and in the debugger, write nothing.
 */

export type { ClaimNameProblem } from './claim-names.js';
export { claimNameProblem, RESERVED_CLAIM_NAMES } from './claim-names.js';
export type { CompiledExpression, ExpressionKind, SourcePosition } from './compile-expression.js';
export type { CompiledMapping, CompiledPolicy, ExchangePolicySource } from './compile-policy.js';
export { compileExchangePolicy } from './compile-policy.js';
export type { JsonValue } from './custom-claims.js';
export type {
  ConditionOutcome,
  EvaluatePolicyOptions,
  ExpressionFailure,
  MappingOutcome,
  PolicyEvaluation,
} from './evaluate-policy.js';
export { evaluateExchangePolicy } from './evaluate-policy.js';
export type {
  ExchangePolicyHook,
  ExchangePolicyHookInput,
  ExchangePolicyHookResult,
  PolicyHookOutcome,
  PolicyHookRunner,
  PolicyHookRunnerOptions,
} from './policy-hook.js';
export { createPolicyHookRunner, DEFAULT_POLICY_HOOK_TIMEOUT_MS } from './policy-hook.js';
export type { PolicyContext } from './policy-input.js';
export {
  MAX_CLAIM_MAPPINGS,
  MAX_CLAIM_NAME_CHARS,
  MAX_CONDITION_CHARS,
  MAX_CUSTOM_CLAIMS_JSON_BYTES,
  MAX_INPUT_COLLECTION_ITEMS,
  MAX_INPUT_DEPTH,
  MAX_INPUT_STRING_CHARS,
  MAX_INPUT_TOTAL_UNITS,
  MAX_MAPPING_CHARS,
  POLICY_COST_LIMIT,
} from './policy-limits.js';
export type { ExchangePolicyInput } from './policy-schema.js';
export { exchangePolicyFields, exchangePolicySchema } from './policy-schema.js';
