import type { OpenApiDocument, RialtoExchange } from '@rialto-exchange/core';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * Checks every answer the exchange gives in the tests against its own OpenAPI document: status,
 * headers and body. Each test app (core's fetch one, the Express one) passes what the client got,
 * so each test that goes through a binding also proves the document right; what it finds is failed
 * by the `afterEach` of `openapi-setup.ts`, and what it saw feeds the coverage check of the whole suite.
 */

/** One answer as the client got it; `path` is relative to where the exchange is mounted. */
export interface ObservedResponse {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface DocumentedOperation {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Record<string, { headers?: Record<string, { $ref: string }>; content?: unknown }>;
}

/** Discrepancies found since the last `takeConformanceProblems()`. */
const problems: string[] = [];
/** `METHOD template status` of every documented answer seen in this test file. */
export const exercisedResponses = new Set<string>();

export function takeConformanceProblems(): string[] {
  return problems.splice(0);
}

const checkers = new Map<string, OpenApiChecker>();

/** A check of the exchange's answers; answers for paths it does not route are not its own and pass. */
export function openApiConformance(exchange: RialtoExchange): (observed: ObservedResponse) => Promise<void> {
  const documentPath = exchange.options.openapi === false ? undefined : exchange.options.openapi.path;
  let checker: Promise<OpenApiChecker | undefined> | undefined;

  return async function checkOpenApiConformance(observed) {
    if (documentPath === undefined || !exchange.handlesPath(observed.path)) return;
    checker ??= checkerFor(exchange, documentPath);
    (await checker)?.check(observed);
  };
}

async function checkerFor(
  exchange: RialtoExchange,
  documentPath: string,
): Promise<OpenApiChecker | undefined> {
  const response = await exchange.handle({ method: 'GET', path: documentPath, headers: {} });
  if (response?.status !== 200) {
    problems.push(`GET ${documentPath} answered ${response?.status} instead of the OpenAPI document`);
    return undefined;
  }
  const document = response.body as OpenApiDocument;
  const key = JSON.stringify(document);
  let checker = checkers.get(key);
  if (!checker) {
    checker = new OpenApiChecker(document);
    checkers.set(key, checker);
  }
  return checker;
}

class OpenApiChecker {
  private readonly ajv: Ajv2020;
  private readonly operations: DocumentedOperation[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(document: OpenApiDocument) {
    // The document is the schema: its components resolve as they do for any OpenAPI 3.1 tool.
    this.ajv = new Ajv2020({ strict: false, validateSchema: false, validateFormats: false, allErrors: true });
    this.ajv.addSchema(document, 'openapi.json');
    this.operations = Object.entries(
      document.paths as Record<string, Record<string, DocumentedOperation['responses']>>,
    )
      .flatMap(([template, operations]) =>
        Object.entries(operations).map(([method, operation]) => ({
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
          responses: (operation as unknown as { responses: DocumentedOperation['responses'] }).responses,
        })),
      )
      // Literal paths before templates: `/issuers` is not an `{issuer_id}`.
      .sort((a, b) => a.template.split('{').length - b.template.split('{').length);
  }

  check(observed: ObservedResponse): void {
    const { method, path, status } = observed;
    const onPath = this.operations.filter((operation) => operation.pattern.test(path));
    const operation = onPath.find((candidate) => candidate.method === method);
    if (!operation) {
      // A method the path does not serve: the router's 405, which no operation can document.
      if (onPath.length > 0 && status === 405) return;
      problems.push(`${method} ${path}: no operation in the OpenAPI document (answered ${status})`);
      return;
    }
    const where = `${method} ${operation.template} ${status}`;
    const documented = operation.responses[String(status)];
    if (!documented) {
      problems.push(`${where}: status not in the document (body ${observed.body.slice(0, 200)})`);
      return;
    }
    exercisedResponses.add(where);
    const pointer = `openapi.json#/paths/${encodeURIComponent(pointerSegment(operation.template))}/${method.toLowerCase()}/responses/${status}`;
    for (const [name, { $ref }] of Object.entries(documented.headers ?? {})) {
      const value = observed.headers[name.toLowerCase()];
      if (value === undefined) {
        problems.push(`${where}: header ${name} missing`);
        continue;
      }
      const validate = this.validator(`openapi.json${$ref}/schema`);
      if (!validate(value))
        problems.push(`${where}: header ${name}: ${value} ${this.ajv.errorsText(validate.errors)}`);
    }
    if (!/^application\/json\b/.test(observed.headers['content-type'] ?? '')) {
      problems.push(`${where}: content-type ${observed.headers['content-type']}`);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(observed.body);
    } catch {
      problems.push(`${where}: body is not JSON`);
      return;
    }
    const validate = this.validator(`${pointer}/content/application~1json/schema`);
    if (!validate(body)) {
      problems.push(
        `${where}: ${this.ajv.errorsText(validate.errors)} in ${JSON.stringify(body).slice(0, 300)}`,
      );
    }
  }

  private validator(ref: string): ValidateFunction {
    let validate = this.validators.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, validate);
    }
    return validate;
  }
}

/** A JSON pointer segment (RFC 6901). */
function pointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
