import type { ExpressionNode } from './expression-cost.js';

/**
 * The top-level claims an expression reads by name (`claims.hd`, `claims["groups"]`,
 * `has(claims.x)`), or `null` when it uses `claims` in any other way (iterates it, indexes it with
 * a computed key, passes it whole). Evaluation then bounds and converts only the claims named:
 * an oversized claim the policy never reads cannot deny an exchange.
 */
export function referencedClaims(ast: ExpressionNode): string[] | null {
  const names = new Set<string>();
  let isWhole = false;
  const visit = (node: ExpressionNode): void => {
    const named = claimNameRead(node);
    if (named !== undefined) {
      names.add(named);
      return;
    }
    if (node.op === 'id' && node.args === 'claims') isWhole = true;
    if (node.op === 'value' || node.op === 'id') return;
    for (const child of childrenOf(node.args)) visit(child);
  };
  visit(ast);
  return isWhole ? null : [...names].sort();
}

function claimNameRead(node: ExpressionNode): string | undefined {
  if (node.op !== '.' && node.op !== '[]') return undefined;
  const [operand, key] = node.args as [ExpressionNode, ExpressionNode | string];
  if (operand.op !== 'id' || operand.args !== 'claims') return undefined;
  if (typeof key === 'string') return key;
  return key.op === 'value' && typeof key.args === 'string' ? key.args : undefined;
}

function childrenOf(args: unknown): ExpressionNode[] {
  if (isNode(args)) return [args];
  if (!Array.isArray(args)) return [];
  return args.flatMap(childrenOf);
}

function isNode(value: unknown): value is ExpressionNode {
  return typeof value === 'object' && value !== null && 'op' in value;
}
