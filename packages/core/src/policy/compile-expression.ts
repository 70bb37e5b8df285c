import { LRUCache } from 'lru-cache';
import { RialtoError } from '../errors.js';
import { policyEnvironment } from './cel-environment.js';
import { referencedClaims } from './claim-references.js';
import { type ExpressionNode, estimateExpressionCost, UnpricedExpressionError } from './expression-cost.js';
import { POLICY_COST_LIMIT } from './policy-limits.js';

/** A line and column in an expression's source, both counted from 1. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** What an expression is for: a condition must be boolean, a mapping may yield any JSON value. */
export type ExpressionKind = 'condition' | 'mapping';

/** An expression compiled, type-checked and priced once, evaluated on every exchange. */
export interface CompiledExpression {
  readonly kind: ExpressionKind;
  readonly source: string;
  /** Estimated worst-case cost in units; see `POLICY_COST_LIMIT`. */
  readonly cost: number;
  /** The top-level claims it reads, sorted; `null` when it reads `claims` as a whole. */
  readonly claimNames: readonly string[] | null;
  /** Evaluates over a prepared input; throws whatever the CEL evaluator throws. */
  readonly run: (input: Readonly<Record<string, unknown>>) => unknown;
  /** Converts an offset in `source` to a line and column. */
  readonly positionOf: (offset: number) => SourcePosition;
}

const MAX_LIBRARY_MESSAGE_CHARS = 200;
// Compiling parses, type-checks and walks the tree (a few µs to a few hundred µs): registrations
// compile once, and the same sources shared by several registrations or drafts compile once too.
const compiled = new LRUCache<string, CompiledExpression>({ max: 1000 });

/**
 * Parses, type-checks and prices one policy expression. `field` names it in errors (`condition`,
 * `claim_mappings.department`). A condition must type as `bool`, or as `dyn` (a bare claim such as
 * `claims.is_staff`), which must then yield a boolean when evaluated or the exchange is denied.
 *
 * @throws RialtoError `invalid_request` naming the field and the line and column of a syntax or
 *   type error, a function the policy language does not offer, a condition that is not boolean, or
 *   an expression whose estimated cost alone exceeds `POLICY_COST_LIMIT`
 * @example
 * const condition = compileExpression('condition', 'claims.hd == "partner.example"', 'condition');
 */
export function compileExpression(field: string, source: string, kind: ExpressionKind): CompiledExpression {
  const key = `${kind}:${source}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  const expression = build(field, source, kind);
  compiled.set(key, expression);
  return expression;
}

function build(field: string, source: string, kind: ExpressionKind): CompiledExpression {
  const positionOf = (offset: number) => sourcePosition(source, offset);
  const refuse = (what: string, offset: number | null): RialtoError =>
    new RialtoError(
      'invalid_request',
      `${field}: ${what}${offset === null ? '' : ` (${describePosition(positionOf(offset))})`}.`,
    );

  let program: ReturnType<typeof policyEnvironment.parse>;
  try {
    program = policyEnvironment.parse(source);
  } catch (error) {
    throw refuse(`syntax error: ${libraryMessage(error)}`, errorOffset(error) ?? 0);
  }
  const checked = program.check();
  if (!checked.valid) {
    throw refuse(`type error: ${libraryMessage(checked.error)}`, errorOffset(checked.error) ?? 0);
  }
  if (kind === 'condition' && checked.type !== 'bool' && checked.type !== 'dyn') {
    throw refuse(`must be a boolean expression, but its type is ${checked.type}`, 0);
  }
  const ast = program.ast as unknown as ExpressionNode;
  let cost: number;
  try {
    const estimate = estimateExpressionCost(ast);
    cost = estimate.cost;
    if (!(cost <= POLICY_COST_LIMIT)) {
      throw refuse(
        `its estimated worst-case cost of ${formatUnits(cost)} units exceeds the policy limit of ${formatUnits(POLICY_COST_LIMIT)}; nested comprehensions over claims are the usual cause`,
        estimate.costliestOffset,
      );
    }
  } catch (error) {
    if (error instanceof UnpricedExpressionError) throw refuse(error.message, error.offset);
    throw error;
  }
  return {
    kind,
    source,
    cost,
    claimNames: referencedClaims(ast),
    run: (input) => program(input),
    positionOf,
  };
}

/** Units with thousands separators (`1,000,000`), for error descriptions. */
export function formatUnits(units: number): string {
  return Number.isFinite(units) ? Math.ceil(units).toLocaleString('en-US') : 'unbounded';
}

export function describePosition({ line, column }: SourcePosition): string {
  return `line ${line}, column ${column}`;
}

function sourcePosition(source: string, offset: number): SourcePosition {
  const before = source.slice(0, Math.max(0, offset));
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

function errorOffset(error: unknown): number | undefined {
  const range = (error as { range?: { start?: unknown } } | undefined)?.range;
  return typeof range?.start === 'number' ? range.start : undefined;
}

// The library's one-line summary, which names tokens and types of the admin's own source, never
// input values (none exist at registration). Capped and kept to one printable line.
function libraryMessage(error: unknown): string {
  const summary = (error as { summary?: unknown } | undefined)?.summary;
  const message = typeof summary === 'string' ? summary : 'invalid expression';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const printable = message.replace(/[\u0000-\u001f\u007f\p{Cf}]/gu, ' ');
  return printable.length > MAX_LIBRARY_MESSAGE_CHARS
    ? `${printable.slice(0, MAX_LIBRARY_MESSAGE_CHARS)}…`
    : printable;
}
