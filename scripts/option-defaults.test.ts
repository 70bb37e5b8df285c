import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { Store } from '../packages/core/src/index.js';
import { resolveOptions } from '../packages/core/src/options/options.js';

/**
 * Each option's default is set once, in its schema (`.default(300)`), and the options' types are
 * inferred from the schema. Editors and the API reference read the default from the option's TSDoc
 * (`@default 300`), and a comment cannot hold a value computed at run time: this checks that the two
 * say the same, so a default changed in one of them fails here until the other follows.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const store = {} as Store;
const resolved = resolveOptions({ store, issuer: 'https://rialto.example' });
const webhooks = resolved.webhooks;

/** Each options type, and what its options resolve to when left out. */
const OPTION_TYPES: { file: string; type: string; defaults: unknown }[] = [
  { file: 'packages/core/src/options/options.ts', type: 'RialtoExchangeOptions', defaults: resolved },
  {
    file: 'packages/core/src/limits/rate-limit-options.ts',
    type: 'RateLimitOptions',
    defaults: resolved.rateLimit,
  },
  { file: 'packages/core/src/http/health-options.ts', type: 'HealthOptions', defaults: resolved.health },
  { file: 'packages/core/src/http/openapi-options.ts', type: 'OpenApiOptions', defaults: resolved.openapi },
  {
    file: 'packages/core/src/telemetry/prometheus-metrics.ts',
    type: 'MetricsOptions',
    defaults: resolveOptions({ store, issuer: 'https://rialto.example', metrics: {} }).metrics,
  },
  {
    file: 'packages/core/src/webhooks/webhook-options.ts',
    type: 'WebhookOptions',
    // The worker's interval is resolved to `workerIntervalMs`; `worker` is how the option is written.
    defaults: { ...webhooks, worker: { intervalMs: webhooks.workerIntervalMs } },
  },
];

const program = ts.createProgram([...new Set(OPTION_TYPES.map(({ file }) => join(root, file)))], {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  customConditions: ['@rialto-exchange/source'],
});

/** The text of each optional property's `@default` tag, as editors show it. */
function documentedDefaults(file: string, typeName: string): Map<string, string | undefined> {
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(join(root, file)) as ts.SourceFile);
  const symbol = module && checker.getExportsOfModule(module).find(({ name }) => name === typeName);
  if (!symbol) throw new Error(`${file} exports no ${typeName}`);
  const tags = new Map<string, string | undefined>();
  for (const property of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
    if (!(property.flags & ts.SymbolFlags.Optional)) continue;
    const tag = property.getJsDocTags(checker).find(({ name }) => name === 'default');
    tags.set(property.name, tag && ts.displayPartsToString(tag.text));
  }
  return tags;
}

const NOT_A_LITERAL = Symbol('not a literal');

/** What a tag such as `{ limit: 1200 }` writes, or NOT_A_LITERAL for prose such as "none". */
function literal(text: string): unknown {
  const code = `(${text});`;
  const { diagnostics } = ts.transpileModule(code, { reportDiagnostics: true });
  if (diagnostics?.length) return NOT_A_LITERAL;
  const [statement, ...rest] = ts.createSourceFile('tag.ts', code, ts.ScriptTarget.ES2022).statements;
  if (rest.length > 0 || !statement || !ts.isExpressionStatement(statement)) return NOT_A_LITERAL;
  return literalValue(statement.expression);
}

function literalValue(node: ts.Expression): unknown {
  if (ts.isParenthesizedExpression(node)) return literalValue(node.expression);
  if (ts.isNumericLiteral(node)) return Number(node.text);
  if (ts.isStringLiteral(node)) return node.text;
  if (node.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (node.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (ts.isArrayLiteralExpression(node)) {
    const elements = node.elements.map(literalValue);
    return elements.includes(NOT_A_LITERAL) ? NOT_A_LITERAL : elements;
  }
  if (ts.isObjectLiteralExpression(node)) {
    const entries = node.properties.map((property) =>
      ts.isPropertyAssignment(property) && ts.isIdentifier(property.name)
        ? [property.name.text, literalValue(property.initializer)]
        : [undefined, NOT_A_LITERAL],
    );
    return entries.some(([, value]) => value === NOT_A_LITERAL) ? NOT_A_LITERAL : Object.fromEntries(entries);
  }
  return NOT_A_LITERAL;
}

const isPrimitive = (value: unknown) => ['number', 'string', 'boolean'].includes(typeof value);

describe('the @default of every option', () => {
  it.each(OPTION_TYPES)(
    'is what $type resolves to when the option is left out',
    { timeout: 60_000 },
    (entry) => {
      const tags = documentedDefaults(entry.file, entry.type);
      expect(tags.size).toBeGreaterThan(0);
      for (const [name, tag] of tags) {
        const value = (entry.defaults as Record<string, unknown>)[name];
        // An options object documents its defaults field by field, so only values need the tag.
        const needsTag = isPrimitive(value) || (Array.isArray(value) && value.every(isPrimitive));
        if (needsTag) expect(tag, `${entry.type}.${name} has a @default tag`).toBeDefined();
        const written = tag === undefined ? NOT_A_LITERAL : literal(tag);
        if (written !== NOT_A_LITERAL) expect(written, `@default of ${entry.type}.${name}`).toEqual(value);
      }
    },
  );

  it('reads literals and leaves prose alone', () => {
    expect(literal("{ limit: 1200, path: '/x', on: false, list: [5, 300] }")).toEqual({
      limit: 1200,
      path: '/x',
      on: false,
      list: [5, 300],
    });
    expect(literal('none')).toBe(NOT_A_LITERAL);
    expect(literal('undefined (any audience)')).toBe(NOT_A_LITERAL);
    expect(literal("Node's own HTTP client")).toBe(NOT_A_LITERAL);
    expect(literal('{ perIp: 1200 per 60 s }')).toBe(NOT_A_LITERAL);
  });
});
