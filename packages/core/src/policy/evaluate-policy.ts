import type { CompiledExpression, SourcePosition } from './compile-expression.js';
import type { CompiledPolicy } from './compile-policy.js';
import { CustomClaims, type JsonValue, toJsonValue } from './custom-claims.js';
import { type PolicyContext, type PolicyInput, preparePolicyInput } from './policy-input.js';

/** Why an expression produced no usable value. Never quotes a claim value. */
export interface ExpressionFailure {
  reason: string;
  /** Where in the expression's source evaluation failed, when the evaluator says. */
  position: SourcePosition | null;
}

/** The condition's result for one token. */
export type ConditionOutcome =
  | { status: 'true' }
  | { status: 'false'; reason: string }
  | ({ status: 'error' } & ExpressionFailure);

/** One mapping's result for one token: a claim, or why it was left out. */
export type MappingOutcome = { name: string } & (
  | { status: 'mapped'; value: JsonValue }
  | ({ status: 'omitted' } & ExpressionFailure)
);

/**
 * A policy's verdict on one token. The exchange reads `admitted` and `claims`; the debugger shows
 * `condition` and `mappings` as well.
 */
export interface PolicyEvaluation {
  /** Whether the condition holds (or there is none). False or an error denies. */
  admitted: boolean;
  /** The custom claims to add to the access token, within 4 KiB of JSON. Empty when denied. */
  claims: Record<string, JsonValue>;
  /** `null` when the policy has no condition. */
  condition: ConditionOutcome | null;
  /**
   * Every mapping's outcome, in the registration's order. Empty when the condition denied, unless
   * `evaluateMappingsWhenDenied` was set.
   */
  mappings: MappingOutcome[];
}

export interface EvaluatePolicyOptions {
  /**
   * Evaluate the mappings even when the condition denies, so the debugger can show what they
   * would yield; the exchange leaves this off and skips them.
   * @default false
   */
  evaluateMappingsWhenDenied?: boolean;
}

/**
 * Evaluates a compiled policy for one verified token. Synchronous and side-effect free: the same
 * call serves the exchange and the debugger. The work is bounded by the policy's cost estimate,
 * because the claims it reads are first checked against the input bounds; claims beyond them deny.
 *
 * Following Google's workload identity federation where the issue is silent: a condition that is
 * false or fails denies; a mapping that fails, or yields a value JSON cannot hold, is left out
 * while the exchange goes on.
 *
 * @example
 * const verdict = evaluateExchangePolicy(policy, { claims, issuer, org: { id: org.orgId, name: org.name } });
 * if (verdict.admitted) mint({ ...verdict.claims, ...standardClaims });
 */
export function evaluateExchangePolicy(
  policy: CompiledPolicy,
  context: PolicyContext,
  options: EvaluatePolicyOptions = {},
): PolicyEvaluation {
  const input = preparePolicyInput(context, policy.claimNames);
  // Each failed step of a comprehension builds an EvaluationError; without a stack trace that costs
  // a few µs instead of tens, which is what ERROR_COST in the cost model assumes. Nothing else runs
  // while this synchronous block does.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const condition = policy.condition ? evaluateCondition(policy.condition, input) : null;
    const admitted = condition === null || condition.status === 'true';
    const claims = new CustomClaims();
    const mappings: MappingOutcome[] = [];
    if (admitted || options.evaluateMappingsWhenDenied) {
      for (const { name, expression } of policy.mappings) {
        const outcome = evaluateMapping(name, expression, input);
        const added = outcome.status === 'mapped' ? claims.add(name, outcome.value) : null;
        mappings.push(
          added && !added.ok ? { name, status: 'omitted', reason: added.reason, position: null } : outcome,
        );
      }
    }
    return { admitted, claims: admitted ? claims.toJSON() : {}, condition, mappings };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

function evaluateCondition(expression: CompiledExpression, input: PolicyInput): ConditionOutcome {
  const result = run(expression, input);
  if (!result.ok) return { status: 'error', reason: result.reason, position: result.position };
  if (result.value === true) return { status: 'true' };
  if (result.value === false) return { status: 'false', reason: 'the condition is false' };
  return { status: 'error', reason: 'the condition did not yield a boolean', position: null };
}

function evaluateMapping(name: string, expression: CompiledExpression, input: PolicyInput): MappingOutcome {
  const result = run(expression, input);
  if (!result.ok) return { name, status: 'omitted', reason: result.reason, position: result.position };
  const json = toJsonValue(result.value);
  if (!json.ok)
    return { name, status: 'omitted', reason: `its value is not JSON: ${json.reason}`, position: null };
  return { name, status: 'mapped', value: json.value };
}

type RunResult = { ok: true; value: unknown } | ({ ok: false } & ExpressionFailure);

function run(expression: CompiledExpression, input: PolicyInput): RunResult {
  if (!input.ok) return { ok: false, reason: input.reason, position: null };
  try {
    return { ok: true, value: expression.run(input.variables) };
  } catch (error) {
    const offset = (error as { range?: { start?: unknown } }).range?.start;
    return {
      ok: false,
      reason: failureReason(error),
      position: typeof offset === 'number' ? expression.positionOf(offset) : null,
    };
  }
}

// Keyed by the evaluator's error codes, which are fixed strings. Its messages are not used: they
// may quote values, e.g. "integer overflow: 9223372036854775808" or the key of a failed lookup.
const FAILURE_REASONS: Readonly<Record<string, string>> = {
  no_such_key: 'a claim or key it reads is absent',
  no_such_overload: 'a value it reads has a type the operation does not accept',
  index_out_of_range: 'an index is out of range',
  division_by_zero: 'it divides by zero',
  modulo_by_zero: 'it divides by zero',
  numeric_overflow: 'an integer overflows',
  invalid_comparison_type: 'it compares values of different types',
  int_conversion_error: 'a value cannot be converted to an int',
  uint_conversion_error: 'a value cannot be converted to a uint',
  double_conversion_error: 'a value cannot be converted to a double',
  bool_conversion_error: 'a value cannot be converted to a bool',
  invalid_list_element_type: 'join() met a list element that is not a string',
};

function failureReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && Object.hasOwn(FAILURE_REASONS, code)) {
    return `evaluation failed: ${FAILURE_REASONS[code]}`;
  }
  // A code this table does not know (it is a fixed identifier, safe to show), or no code at all.
  return typeof code === 'string' && /^[a-z_]{1,64}$/.test(code)
    ? `evaluation failed (${code})`
    : 'evaluation failed';
}
