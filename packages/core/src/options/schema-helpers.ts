import { z } from 'zod';

/**
 * Building blocks of the options schemas. Every factory option is validated by one zod schema, so
 * a typo or a half-written object fails at start-up with a TypeError naming the option, instead of
 * being ignored or resolved to a value nobody meant (a rate limit of 0, `Retry-After: Infinity`).
 */

/**
 * An object schema that refuses unknown keys, suggesting the closest known one.
 *
 * Keep the shape in a constant of its own, with each option's TSDoc on its property, and type the
 * options from that constant: `interface XOptions extends z.input<z.ZodObject<typeof xShape>> {}`.
 * Declaration files keep the TSDoc of a named constant's properties but not of a shape written
 * inline in a call, so typed this way editors show every option's description and default from the
 * published package too.
 */
export function strictOptions<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? unknownKeysMessage(issue.keys, known) : undefined,
  });
}

export const positiveNumber = () =>
  z.number({ error: 'must be a positive number' }).positive({ error: 'must be a positive number' });

export const nonNegativeNumber = () =>
  z
    .number({ error: 'must be zero or a positive number' })
    .min(0, { error: 'must be zero or a positive number' });

export const wholeNumberAtLeastOne = () =>
  z.number({ error: 'must be a whole number of at least 1' }).int().min(1, {
    error: 'must be a whole number of at least 1',
  });

/** A path the router serves, e.g. `/health/live`: letters, digits, `.` `_` `~` `-` between slashes. */
export const routePath = (fallback: string) =>
  z
    .string({ error: `must be a path such as "${fallback}"` })
    .regex(/^(?:\/[A-Za-z0-9._~-]+)+$/, {
      error: `must be a path such as "${fallback}" (letters, digits, . _ ~ - between slashes)`,
    })
    .default(fallback);

/** `T | false`, where `false` turns the feature off. */
export const orFalse = <T extends z.ZodType>(schema: T, expected: string) =>
  z.union([z.literal(false), schema], { error: `must be false or ${expected}` });

/** One value or a non-empty list of them (key rotation: the first signs, the rest still verify). */
export const oneOrMore = <T extends z.ZodType>(schema: T, expected: string) => {
  const message = `must be ${expected}, or a non-empty array of them`;
  return z.union([schema, z.array(schema).min(1, { error: message })], { error: message });
};

const REQUIRED = 'is required';

/**
 * The error option of a required option's schema: when the option is missing, the message says why
 * it has no default; otherwise it says what the value must be.
 * @example
 * z.boolean({ error: requiredBecause('nothing else tells whether…', 'must be true or false') })
 */
export const requiredBecause =
  (reason: string, expected: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? `${REQUIRED}: ${reason}` : expected;

/**
 * `schema`, typed by the names users know (`HealthOptions`, `AccessTokenAlgorithm`) instead of the
 * structure zod infers, so editors and the API reference show the name wherever the schema is used.
 * The compiler checks that what the schema accepts and gives fits them.
 */
export const named = <Output, Input = Output>(schema: z.ZodType<Output, Input>): z.ZodType<Output, Input> =>
  schema;

/** A value checked only for its shape, e.g. a store, a logger or a callback. */
export const implementation = <T>(check: (value: unknown) => boolean, expected: string) =>
  z.custom<T>(check, { error: `must be ${expected}` });

/**
 * Validates `input` against `schema`.
 * @param caller names the factory in the message, e.g. `createRialtoExchange`
 * @param pathPrefix where the schema sits among the factory's options, e.g. `['webhooks']`
 * @throws TypeError naming the option and what it must be; never echoing the value (it may be a secret)
 */
export function parseOptions<T extends z.ZodType>(
  schema: T,
  input: unknown,
  caller: string,
  pathPrefix: readonly PropertyKey[] = [],
): z.output<T> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const messages = result.error.issues.map((issue) => describeIssue(issue, pathPrefix));
  throw new TypeError(`${caller}: ${[...new Set(messages)].join('; ')}`);
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue, pathPrefix: readonly PropertyKey[]): string {
  const specific = issue.code === 'invalid_union' ? mostSpecificBranchIssue(issue) : undefined;
  if (specific) return describeIssue({ ...specific, path: [...issue.path, ...specific.path] }, pathPrefix);
  const path = [...pathPrefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    return path.length === 0 ? issue.message : `${issue.message} (in \`${formatPath(path)}\`)`;
  }
  if (path.length === 0)
    return `options ${issue.code === 'invalid_type' ? 'must be an object' : issue.message}`;
  const missing = 'input' in issue && issue.input === undefined;
  // A schema may say why an option is required (see `requiredBecause`); otherwise the message is generic.
  const requirement = issue.message.startsWith(REQUIRED) ? issue.message : REQUIRED;
  return `\`${formatPath(path)}\` ${missing ? requirement : issue.message}`;
}

/**
 * A union fails with one issue list per branch. The branch that got furthest into the value says
 * what is wrong (`{ windowSeconds: 60 }` is a rate limit missing `limit`, not "not false"); when no
 * branch got past the type check, the union's own message says what was expected.
 */
function mostSpecificBranchIssue(issue: Extract<Issue, { code: 'invalid_union' }>): Issue | undefined {
  let best: Issue | undefined;
  let bestScore = 0;
  for (const branch of issue.errors) {
    for (const candidate of branch) {
      const isTypeMismatch = candidate.code === 'invalid_type' || candidate.code === 'invalid_value';
      const score = candidate.path.length * 2 + (isTypeMismatch ? 0 : 1);
      if (score > bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
  }
  return best;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : `${index ? '.' : ''}${String(segment)}`,
    )
    .join('');
}

function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((key) => {
      const closest = closestName(key, known);
      if (closest) return `unknown option \`${key}\`; did you mean \`${closest}\`?`;
      return known.length <= 8
        ? `unknown option \`${key}\`; expected one of ${known.map((name) => `\`${name}\``).join(', ')}`
        : `unknown option \`${key}\``;
    })
    .join('; ');
}

/** The known name within a few edits of `name` (typos, case), if any. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

// Optimal string alignment distance: a swapped pair of letters ("Tokne") counts as one edit.
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const previous = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(
        (previous[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}
