import { RialtoError } from '../errors.js';
import { claimNameProblem } from './claim-names.js';
import { type CompiledExpression, compileExpression, formatUnits } from './compile-expression.js';
import {
  MAX_CLAIM_MAPPINGS,
  MAX_CONDITION_CHARS,
  MAX_MAPPING_CHARS,
  POLICY_COST_LIMIT,
} from './policy-limits.js';

/** The policy fields of an issuer registration, as the host and the debugger hold them. */
export interface ExchangePolicySource {
  /** A CEL expression that must be true for the exchange to go on. */
  condition?: string | null;
  /** Access-token claim name → CEL expression whose value becomes that claim. */
  claimMappings?: Readonly<Record<string, string>> | null;
}

/** One compiled claim mapping. */
export interface CompiledMapping {
  readonly name: string;
  readonly expression: CompiledExpression;
}

/** A policy ready to evaluate: compiled at registration (or for a draft), shared by every exchange. */
export interface CompiledPolicy {
  readonly condition: CompiledExpression | null;
  /** In the order the registration lists them. */
  readonly mappings: readonly CompiledMapping[];
  /** Every top-level claim the policy reads, or `null` when some expression reads them all. */
  readonly claimNames: readonly string[] | null;
  /** Estimated worst-case cost of the whole policy, at most `POLICY_COST_LIMIT`. */
  readonly cost: number;
}

/**
 * Compiles and checks a policy as registration must: the condition is a boolean CEL expression,
 * every mapping names a claim the exchange does not own, and the estimated cost of all expressions
 * together stays within `POLICY_COST_LIMIT`. Compiled expressions are cached by source, so calling
 * this again for a stored registration costs a lookup per expression.
 *
 * @throws RialtoError `invalid_request` whose description names the field (`condition`,
 *   `claim_mappings.<name>`) and, for syntax and type errors, the line and column
 * @example
 * const policy = compileExchangePolicy({
 *   condition: 'claims.hd == "partner.example" && "staff" in claims.groups',
 *   claimMappings: { department: 'claims.department' },
 * });
 */
export function compileExchangePolicy(source: ExchangePolicySource): CompiledPolicy {
  const condition =
    source.condition == null ? null : compileBounded('condition', source.condition, 'condition');
  const entries = Object.entries(source.claimMappings ?? {});
  if (entries.length > MAX_CLAIM_MAPPINGS) {
    throw new RialtoError('invalid_request', `claim_mappings: at most ${MAX_CLAIM_MAPPINGS} mappings.`);
  }
  const mappings = entries.map(([name, expression]): CompiledMapping => {
    const problem = claimNameProblem(name);
    if (problem) {
      const description = problem.isQuotable
        ? `claim_mappings.${name}: ${problem.reason}.`
        : `claim_mappings: a claim name ${problem.reason}.`;
      throw new RialtoError('invalid_request', description);
    }
    return { name, expression: compileBounded(`claim_mappings.${name}`, expression, 'mapping') };
  });
  const expressions = [...(condition ? [condition] : []), ...mappings.map(({ expression }) => expression)];
  const cost = expressions.reduce((total, expression) => total + expression.cost, 0);
  if (cost > POLICY_COST_LIMIT) {
    const fields = [
      ...(condition ? [['condition', condition.cost] as const] : []),
      ...mappings.map(({ name, expression }) => [`claim_mappings.${name}`, expression.cost] as const),
    ]
      .map(([field, fieldCost]) => `${field} ${formatUnits(fieldCost)}`)
      .join(', ');
    throw new RialtoError(
      'invalid_request',
      `The policy's estimated worst-case cost of ${formatUnits(cost)} units exceeds the limit of ${formatUnits(POLICY_COST_LIMIT)} (${fields}).`,
    );
  }
  return { condition, mappings, claimNames: unionOfClaimNames(expressions), cost };
}

function compileBounded(field: string, source: string, kind: 'condition' | 'mapping'): CompiledExpression {
  const maxChars = kind === 'condition' ? MAX_CONDITION_CHARS : MAX_MAPPING_CHARS;
  if (source.trim().length === 0 || source.length > maxChars) {
    throw new RialtoError(
      'invalid_request',
      `${field}: must be a CEL expression of 1 to ${maxChars} characters.`,
    );
  }
  return compileExpression(field, source, kind);
}

function unionOfClaimNames(expressions: CompiledExpression[]): string[] | null {
  const names = new Set<string>();
  for (const { claimNames } of expressions) {
    if (claimNames === null) return null;
    for (const name of claimNames) names.add(name);
  }
  return [...names].sort();
}
