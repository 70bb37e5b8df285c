import {
  MAX_INPUT_COLLECTION_ITEMS,
  MAX_INPUT_DEPTH,
  MAX_INPUT_STRING_CHARS,
  MAX_INPUT_TOTAL_UNITS,
} from './policy-limits.js';

/** What a policy expression can see about one exchange. */
export interface PolicyContext {
  /** The verified ID-token claims. */
  claims: Readonly<Record<string, unknown>>;
  /** The issuer URL of the registration that verified the token. */
  issuer: string;
  org: { id: string; name: string };
}

/** The variables of a CEL evaluation, or why the claims cannot be evaluated. */
export type PolicyInput =
  | { ok: true; variables: Readonly<Record<string, unknown>> }
  | { ok: false; reason: string };

const BOUNDS_TEXT = `strings of at most ${MAX_INPUT_STRING_CHARS} characters, lists and objects of at most ${MAX_INPUT_COLLECTION_ITEMS} entries nested at most ${MAX_INPUT_DEPTH} deep, ${MAX_INPUT_TOTAL_UNITS} units in all`;

/**
 * Converts the claims a policy reads into CEL values within the input bounds the cost estimate
 * assumes: whole JSON numbers become CEL ints (so `claims.exp > 1700000000` and
 * `claims.level + 1` type as a CEL user expects), objects become Maps (no prototype to reach),
 * anything else JSON cannot hold is left out. `claimNames` `null` converts every claim.
 *
 * Claims beyond the bounds refuse the evaluation rather than being cut: a truncated `groups`
 * could make `!("blocked" in claims.groups)` admit. The reason names the claim only when the
 * policy named it (a name from the token itself is attacker-chosen text) and never its value.
 */
export function preparePolicyInput(
  context: PolicyContext,
  claimNames: readonly string[] | null,
): PolicyInput {
  const budget = { units: MAX_INPUT_TOTAL_UNITS };
  const claims = new Map<string, unknown>();
  const source = context.claims;
  const names = claimNames ?? Object.keys(source);
  if (names.length > MAX_INPUT_COLLECTION_ITEMS) return refusal('the ID token has too many claims');
  for (const name of names) {
    if (!Object.hasOwn(source, name)) continue;
    const value = toCelValue(source[name], 0, budget);
    if (value === OUT_OF_BOUNDS) {
      return refusal(
        claimNames ? `the claim ${JSON.stringify(name)} is too large` : 'the claims are too large',
      );
    }
    if (value !== NOT_JSON) claims.set(name, value);
  }
  return {
    ok: true,
    variables: {
      claims,
      issuer: context.issuer,
      org: new Map([
        ['id', context.org.id],
        ['name', context.org.name],
      ]),
    },
  };
}

function refusal(what: string): PolicyInput {
  return { ok: false, reason: `${what} for a policy to read (${BOUNDS_TEXT})` };
}

const OUT_OF_BOUNDS = Symbol('out of bounds');
const NOT_JSON = Symbol('not JSON');

function toCelValue(
  value: unknown,
  depth: number,
  budget: { units: number },
): unknown | typeof OUT_OF_BOUNDS | typeof NOT_JSON {
  if (typeof value === 'string') {
    budget.units -= value.length;
    return value.length > MAX_INPUT_STRING_CHARS || budget.units < 0 ? OUT_OF_BOUNDS : value;
  }
  budget.units -= 1;
  if (budget.units < 0) return OUT_OF_BOUNDS;
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return NOT_JSON;
    return Number.isSafeInteger(value) ? BigInt(value) : value;
  }
  if (typeof value !== 'object' || depth >= MAX_INPUT_DEPTH) {
    return typeof value === 'object' ? OUT_OF_BOUNDS : NOT_JSON;
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_INPUT_COLLECTION_ITEMS) return OUT_OF_BOUNDS;
    const list: unknown[] = [];
    for (const element of value) {
      const converted = toCelValue(element, depth + 1, budget);
      if (converted === OUT_OF_BOUNDS) return OUT_OF_BOUNDS;
      list.push(converted === NOT_JSON ? null : converted);
    }
    return list;
  }
  const keys = Object.keys(value);
  if (keys.length > MAX_INPUT_COLLECTION_ITEMS) return OUT_OF_BOUNDS;
  const map = new Map<string, unknown>();
  for (const key of keys) {
    budget.units -= key.length;
    if (key.length > MAX_INPUT_STRING_CHARS) return OUT_OF_BOUNDS;
    const converted = toCelValue((value as Record<string, unknown>)[key], depth + 1, budget);
    if (converted === OUT_OF_BOUNDS || budget.units < 0) return OUT_OF_BOUNDS;
    if (converted !== NOT_JSON) map.set(key, converted);
  }
  return map;
}
