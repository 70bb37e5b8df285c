import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { MAX_CUSTOM_CLAIMS_JSON_BYTES } from './policy-limits.js';

/** A value an access-token claim can hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON value, or why a value is not one (never quoting it: it may come from the ID token). */
export type JsonConversion = { ok: true; value: JsonValue } | { ok: false; reason: string };

// CEL values nest no deeper than their input (MAX_INPUT_DEPTH) plus what literals add; this only
// stops a pathological host hook value from recursing without end.
const MAX_JSON_DEPTH = 32;

/**
 * Converts a CEL result (or a hook's claim value) to JSON: CEL ints within ±2^53 become numbers,
 * maps become objects with string keys (null-prototype, so a `__proto__` key is just a key).
 * Bytes, timestamps, types, non-finite doubles and larger integers are not JSON.
 */
export function toJsonValue(value: unknown): JsonConversion {
  try {
    return { ok: true, value: convert(value, 0) };
  } catch (error) {
    if (error instanceof NotJsonError) return { ok: false, reason: error.message };
    throw error;
  }
}

class NotJsonError extends Error {}

function convert(value: unknown, depth: number): JsonValue {
  if (depth > MAX_JSON_DEPTH) throw new NotJsonError(`it nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    throw new NotJsonError('it is not a finite number');
  }
  const integer = typeof value === 'bigint' ? value : value instanceof UnsignedInt ? value.valueOf() : null;
  if (integer !== null) {
    if (integer >= Number.MIN_SAFE_INTEGER && integer <= Number.MAX_SAFE_INTEGER) return Number(integer);
    throw new NotJsonError('it is an integer beyond ±2^53, which JSON parsers round');
  }
  if (Array.isArray(value)) return value.map((element) => convert(element, depth + 1));
  const entries =
    value instanceof Map ? [...value.entries()] : isPlainObject(value) ? Object.entries(value) : null;
  if (!entries) throw new NotJsonError(`it is a ${describeType(value)}, which JSON cannot hold`);
  const object: { [key: string]: JsonValue } = Object.create(null);
  for (const [key, element] of entries) {
    if (typeof key !== 'string') throw new NotJsonError('it is a map whose keys are not all strings');
    object[key] = convert(element, depth + 1);
  }
  return object;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describeType(value: unknown): string {
  if (value instanceof Uint8Array) return 'bytes value';
  if (value instanceof Date) return 'timestamp';
  if (value === undefined) return 'missing value';
  return typeof value === 'object' ? 'CEL value of another type' : `${typeof value} value`;
}

/**
 * The custom claims of one access token, kept within `MAX_CUSTOM_CLAIMS_JSON_BYTES` of JSON as
 * they are added. Adding a name again replaces its value.
 */
export class CustomClaims {
  readonly #claims: Record<string, JsonValue> = Object.create(null);
  readonly #memberBytes = new Map<string, number>();
  #membersBytes = 0;

  /** Adds a claim, or says why it would not fit. */
  add(name: string, value: JsonValue): { ok: true } | { ok: false; reason: string } {
    const bytes = jsonBytes(name) + 1 + jsonBytes(value);
    const count = this.#memberBytes.size + (this.#memberBytes.has(name) ? 0 : 1);
    const membersBytes = this.#membersBytes - (this.#memberBytes.get(name) ?? 0) + bytes;
    // Braces, members and the commas between them.
    if (2 + membersBytes + count - 1 > MAX_CUSTOM_CLAIMS_JSON_BYTES) {
      return {
        ok: false,
        reason: `the custom claims would exceed ${MAX_CUSTOM_CLAIMS_JSON_BYTES} bytes of JSON`,
      };
    }
    this.#claims[name] = value;
    this.#memberBytes.set(name, bytes);
    this.#membersBytes = membersBytes;
    return { ok: true };
  }

  /** The claims added so far; a fresh object each call. */
  toJSON(): Record<string, JsonValue> {
    return Object.assign(Object.create(null), this.#claims);
  }
}

function jsonBytes(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value));
}
