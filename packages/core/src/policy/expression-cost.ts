import {
  MAX_INPUT_COLLECTION_ITEMS,
  MAX_INPUT_STRING_CHARS,
  MAX_INPUT_TOTAL_UNITS,
} from './policy-limits.js';

/*
 * A static upper bound on the work of evaluating one checked expression, in the units of
 * POLICY_COST_LIMIT (about 10 ns: one node visit). The CEL library has no step counter and a timer cannot interrupt synchronous code,
 * so the bound is computed from the expression and the input bounds that evaluation enforces
 * (policy-input.ts): every value read from `claims` is at most MAX_INPUT_STRING_CHARS long as a
 * string, MAX_INPUT_COLLECTION_ITEMS long as a collection and MAX_INPUT_TOTAL_UNITS in all.
 *
 * Only functions with a cost rule below are accepted; anything else is refused at registration,
 * so a function added by a library upgrade is never reachable unpriced.
 */

/** A node as the parser leaves it; the published type does not name every field. */
export interface ExpressionNode {
  readonly op: string;
  readonly args: unknown;
  readonly pos: number;
  readonly start?: number;
  readonly checkedType?: { readonly name: string };
}

/** Raised for an expression the cost model does not cover, at the node that uses it. */
export class UnpricedExpressionError extends Error {
  override readonly name = 'UnpricedExpressionError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export interface CostEstimate {
  /** Upper bound of the work, in units. */
  cost: number;
  /** Where the costliest comprehension starts, for the error an admin sees; `null` without one. */
  costliestOffset: number | null;
}

// Sizes of a value: `chars` and `items` bound the value itself (as a string, as a collection);
// `deepChars` and `deepItems` everything inside it; `inner` any element, key or value.
interface Bound {
  readonly chars: number;
  readonly items: number;
  readonly deepChars: number;
  readonly deepItems: number;
  readonly inner: Bound | null;
}

// Copying or comparing one character natively.
const CHAR_COST = 0.05;
// Per character of size() (which counts code points one by one) and per character pair of a
// substring search, which V8 may do in O(n·m).
const SCAN_COST = 0.25;
// Creating, copying or comparing one element of a list or map.
const ITEM_COST = 1;
// An error that evaluation absorbs and goes on from (a failed iteration of exists() or all(), one
// side of || or &&) builds an EvaluationError with a formatted message.
const ERROR_COST = 1000;
// The longest text of a number or bool converted by string().
const SCALAR_TEXT_CHARS = 32;
// toLowerCase/toUpperCase may turn one UTF-16 unit into up to three (e.g. ΐ → Ϊ́).
const CASE_MAPPING_GROWTH = 3;
const ORG_TEXT_CHARS = 200;
const ISSUER_CHARS = 2048;

const SCALAR: Bound = { chars: 0, items: 0, deepChars: 0, deepItems: 1, inner: null };

function text(chars: number): Bound {
  return { chars, items: 0, deepChars: chars, deepItems: 0, inner: null };
}

const CLAIM_VALUE: Bound = {
  chars: MAX_INPUT_STRING_CHARS,
  items: MAX_INPUT_COLLECTION_ITEMS,
  deepChars: MAX_INPUT_TOTAL_UNITS,
  deepItems: MAX_INPUT_TOTAL_UNITS,
  // Any value inside a claim is again a claim value: the bounds hold at every depth.
  get inner() {
    return CLAIM_VALUE;
  },
};

const VARIABLES: ReadonlyMap<string, Bound> = new Map([
  ['claims', CLAIM_VALUE],
  ['issuer', text(ISSUER_CHARS)],
  [
    'org',
    { chars: 0, items: 2, deepChars: 2 * ORG_TEXT_CHARS + 6, deepItems: 2, inner: text(ORG_TEXT_CHARS) },
  ],
]);

const NUMERIC_TYPES = new Set(['int', 'uint', 'double']);
const MACROS = new Set(['all', 'exists', 'exists_one', 'filter', 'map']);

// 0 × ∞ is NaN; an operation done zero times costs nothing however large its operand.
function times(count: number, each: number): number {
  return count === 0 || each === 0 ? 0 : count * each;
}

function widest(a: Bound, b: Bound): Bound {
  if (a === b) return a;
  return {
    chars: Math.max(a.chars, b.chars),
    items: Math.max(a.items, b.items),
    deepChars: Math.max(a.deepChars, b.deepChars),
    deepItems: Math.max(a.deepItems, b.deepItems),
    inner: a.inner && b.inner ? widest(a.inner, b.inner) : (a.inner ?? b.inner),
  };
}

function equalityCost(a: Bound, b: Bound): number {
  return 1 + Math.min(a.deepChars, b.deepChars) * CHAR_COST + Math.min(a.deepItems, b.deepItems) * ITEM_COST;
}

interface Estimate {
  cost: number;
  bound: Bound;
}

interface Walk {
  costliest: { cost: number; offset: number } | null;
}

function offsetOf(node: ExpressionNode): number {
  return node.start ?? node.pos;
}

function nodes(value: unknown): ExpressionNode[] {
  return value as ExpressionNode[];
}

/**
 * The worst-case cost of a parsed and type-checked expression over inputs within the policy's
 * input bounds.
 * @throws UnpricedExpressionError for a function, macro or construct the model does not cover
 */
export function estimateExpressionCost(ast: ExpressionNode): CostEstimate {
  const walk: Walk = { costliest: null };
  const { cost } = estimate(ast, new Map(), walk);
  return { cost, costliestOffset: walk.costliest?.offset ?? null };
}

function estimate(node: ExpressionNode, scope: ReadonlyMap<string, Bound>, walk: Walk): Estimate {
  const at = (child: ExpressionNode, innerScope = scope) => estimate(child, innerScope, walk);
  switch (node.op) {
    case 'value': {
      const value = node.args;
      if (typeof value === 'string') return { cost: 1, bound: text(value.length) };
      if (value instanceof Uint8Array) return { cost: 1, bound: text(value.length) };
      return { cost: 1, bound: SCALAR };
    }
    case 'id': {
      const name = node.args as string;
      // A type name such as `list` in `type(claims.groups) == list`.
      if (node.checkedType?.name === 'type' && !scope.has(name)) return { cost: 1, bound: SCALAR };
      const bound = scope.get(name) ?? VARIABLES.get(name);
      if (!bound) throw new UnpricedExpressionError(`${name} is not available in policies`, offsetOf(node));
      return { cost: 1, bound };
    }
    case '.': {
      const [operand] = node.args as [ExpressionNode, string];
      const { cost, bound } = at(operand);
      return { cost: cost + 1, bound: bound.inner ?? SCALAR };
    }
    case '[]': {
      const [operand, index] = nodes(node.args);
      const container = at(operand as ExpressionNode);
      const key = at(index as ExpressionNode);
      return {
        cost: container.cost + key.cost + 1 + key.bound.chars * CHAR_COST,
        bound: container.bound.inner ?? SCALAR,
      };
    }
    case '&&':
    case '||': {
      // CEL's logical operators absorb an error of one side when the other decides (`error || true`
      // is true), so evaluation goes on after building one more EvaluationError.
      const [left, right] = nodes(node.args);
      const operands = at(left as ExpressionNode).cost + at(right as ExpressionNode).cost;
      return { cost: 1 + operands + ERROR_COST, bound: SCALAR };
    }
    case '!_':
    case '-_':
      return { cost: 1 + at(node.args as ExpressionNode).cost, bound: SCALAR };
    case '?:': {
      const [condition, whenTrue, whenFalse] = nodes(node.args);
      const chosen = [at(whenTrue as ExpressionNode), at(whenFalse as ExpressionNode)];
      const [a, b] = chosen as [Estimate, Estimate];
      return {
        cost: 1 + at(condition as ExpressionNode).cost + Math.max(a.cost, b.cost),
        bound: widest(a.bound, b.bound),
      };
    }
    case '==':
    case '!=':
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const [left, right] = nodes(node.args).map((child) => at(child)) as [Estimate, Estimate];
      return { cost: left.cost + right.cost + equalityCost(left.bound, right.bound), bound: SCALAR };
    }
    case 'in': {
      const [element, container] = nodes(node.args).map((child) => at(child)) as [Estimate, Estimate];
      const each = ITEM_COST + equalityCost(element.bound, container.bound.inner ?? SCALAR);
      return {
        cost:
          1 +
          element.cost +
          container.cost +
          element.bound.chars * CHAR_COST +
          times(container.bound.items, each),
        bound: SCALAR,
      };
    }
    case '+': {
      const [left, right] = nodes(node.args).map((child) => at(child)) as [Estimate, Estimate];
      const operands = 1 + left.cost + right.cost;
      if (NUMERIC_TYPES.has(node.checkedType?.name ?? '')) return { cost: operands, bound: SCALAR };
      const a = left.bound;
      const b = right.bound;
      return {
        cost: operands + (a.chars + b.chars) * CHAR_COST + (a.items + b.items) * ITEM_COST,
        bound: {
          chars: a.chars + b.chars,
          items: a.items + b.items,
          deepChars: a.deepChars + b.deepChars,
          deepItems: a.deepItems + b.deepItems,
          inner: a.inner && b.inner ? widest(a.inner, b.inner) : (a.inner ?? b.inner),
        },
      };
    }
    case '-':
    case '*':
    case '/':
    case '%': {
      const [left, right] = nodes(node.args);
      return { cost: 1 + at(left as ExpressionNode).cost + at(right as ExpressionNode).cost, bound: SCALAR };
    }
    case 'list': {
      const elements = nodes(node.args).map((child) => at(child));
      return { cost: 1 + sumCosts(elements) + elements.length * ITEM_COST, bound: collection(elements) };
    }
    case 'map': {
      const entries = (node.args as [ExpressionNode, ExpressionNode][]).flatMap(([key, value]) => [
        at(key),
        at(value),
      ]);
      const count = entries.length / 2;
      return {
        cost: 1 + sumCosts(entries) + count * ITEM_COST,
        bound: { ...collection(entries), items: count },
      };
    }
    case 'call': {
      const [name, args] = node.args as [string, ExpressionNode[]];
      return callCost(
        node,
        name,
        args.map((child) => at(child)),
      );
    }
    case 'rcall': {
      const [name, receiver, args] = node.args as [string, ExpressionNode, ExpressionNode[]];
      if (receiver.op === 'id' && receiver.args === 'cel' && name === 'bind') {
        return bindCost(args, scope, walk);
      }
      if (MACROS.has(name) && args[0]?.op === 'id') {
        return comprehensionCost(node, name, at(receiver), args, scope, walk);
      }
      return methodCost(
        node,
        name,
        at(receiver),
        args.map((child) => at(child)),
      );
    }
    default:
      throw new UnpricedExpressionError(
        `the ${node.op} operator is not available in policies`,
        offsetOf(node),
      );
  }
}

function sumCosts(estimates: Estimate[]): number {
  return estimates.reduce((total, { cost }) => total + cost, 0);
}

function collection(elements: Estimate[]): Bound {
  let inner: Bound | null = null;
  let deepChars = 0;
  let deepItems = elements.length;
  for (const { bound } of elements) {
    inner = inner ? widest(inner, bound) : bound;
    deepChars += bound.deepChars;
    deepItems += bound.deepItems;
  }
  return { chars: 0, items: elements.length, deepChars, deepItems, inner };
}

function callCost(node: ExpressionNode, name: string, args: Estimate[]): Estimate {
  const [argument] = args;
  if (args.length !== 1 || !argument) throw unpriced(node, name);
  const cost = 1 + argument.cost;
  const { bound } = argument;
  switch (name) {
    case 'has':
    case 'type':
      return { cost, bound: SCALAR };
    case 'dyn':
      return { cost, bound };
    case 'size':
      return { cost: cost + bound.chars * SCAN_COST, bound: SCALAR };
    case 'int':
    case 'uint':
    case 'double':
    case 'bool':
      return { cost: cost + bound.chars * CHAR_COST, bound: SCALAR };
    case 'string':
      return {
        cost: cost + bound.chars * CHAR_COST,
        bound: text(Math.max(bound.chars, SCALAR_TEXT_CHARS)),
      };
    default:
      throw unpriced(node, name);
  }
}

function methodCost(node: ExpressionNode, name: string, receiver: Estimate, args: Estimate[]): Estimate {
  const self = receiver.bound;
  const [first] = args;
  const operands = 1 + receiver.cost + sumCosts(args);
  const pattern = first?.bound.chars ?? 0;
  switch (`${name}/${args.length}`) {
    case 'size/0':
      return { cost: operands + self.chars * SCAN_COST, bound: SCALAR };
    case 'startsWith/1':
    case 'endsWith/1':
      return { cost: operands + pattern * CHAR_COST, bound: SCALAR };
    case 'contains/1':
    case 'indexOf/1':
    case 'indexOf/2':
    case 'lastIndexOf/1':
    case 'lastIndexOf/2':
      return { cost: operands + times(self.chars, Math.max(1, pattern)) * SCAN_COST, bound: SCALAR };
    case 'lowerAscii/0':
    case 'upperAscii/0':
      return { cost: operands + self.chars * CHAR_COST, bound: text(self.chars * CASE_MAPPING_GROWTH) };
    case 'trim/0':
    case 'substring/1':
    case 'substring/2':
      return { cost: operands + self.chars * CHAR_COST, bound: text(self.chars) };
    case 'split/1':
    case 'split/2': {
      const pieces = self.chars + 1;
      return {
        cost: operands + times(self.chars, Math.max(1, pattern)) * SCAN_COST + pieces * ITEM_COST,
        bound: { chars: 0, items: pieces, deepChars: self.chars, deepItems: pieces, inner: text(self.chars) },
      };
    }
    case 'join/0':
    case 'join/1': {
      const chars = self.deepChars + times(self.items, pattern);
      return { cost: operands + chars * CHAR_COST + self.items * ITEM_COST, bound: text(chars) };
    }
    default:
      throw unpriced(node, name);
  }
}

function comprehensionCost(
  node: ExpressionNode,
  name: string,
  receiver: Estimate,
  args: ExpressionNode[],
  scope: ReadonlyMap<string, Bound>,
  walk: Walk,
): Estimate {
  const [variable, ...bodies] = args as [ExpressionNode, ...ExpressionNode[]];
  const element = receiver.bound.inner ?? SCALAR;
  const innerScope = new Map(scope).set(variable.args as string, element);
  const estimates = bodies.map((body) => estimate(body, innerScope, walk));
  const iterations = receiver.bound.items;
  const cost = 1 + receiver.cost + times(iterations, sumCosts(estimates) + ITEM_COST + ERROR_COST);
  if (!walk.costliest || cost > walk.costliest.cost) walk.costliest = { cost, offset: offsetOf(node) };
  if (name === 'map') {
    const transformed = (estimates.at(-1) as Estimate).bound;
    return {
      cost,
      bound: {
        chars: 0,
        items: iterations,
        deepChars: times(iterations, transformed.deepChars),
        deepItems: iterations + times(iterations, transformed.deepItems),
        inner: transformed,
      },
    };
  }
  if (name === 'filter') return { cost, bound: { ...receiver.bound, chars: 0, inner: element } };
  return { cost, bound: SCALAR };
}

function bindCost(args: ExpressionNode[], scope: ReadonlyMap<string, Bound>, walk: Walk): Estimate {
  const [variable, value, body] = args as [ExpressionNode, ExpressionNode, ExpressionNode];
  const bound = estimate(value, scope, walk);
  const result = estimate(body, new Map(scope).set(variable.args as string, bound.bound), walk);
  return { cost: 1 + bound.cost + result.cost, bound: result.bound };
}

function unpriced(node: ExpressionNode, name: string): UnpricedExpressionError {
  if (name === 'matches') {
    return new UnpricedExpressionError(
      'matches() is not available in policies: JavaScript regular expressions can take exponential time on crafted input; use startsWith, endsWith or contains',
      offsetOf(node),
    );
  }
  return new UnpricedExpressionError(`${name}() is not available in policies`, offsetOf(node));
}
