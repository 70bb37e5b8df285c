import type { z } from 'zod';
import type { RialtoErrorCode } from '../errors.js';
import { validateInput } from '../internal/validate-input.js';
import type { RequestLike, ResponseLike } from './http-types.js';
import { type AuthScheme, parseJsonBody } from './messages.js';

export interface Route {
  method: string;
  pattern: RegExp;
  /** How the route authenticates; decides the `WWW-Authenticate` challenge of its 401s. */
  scheme: AuthScheme;
  run(request: RequestLike, params: string[]): Promise<ResponseLike>;
  /** What the OpenAPI document says of the route; required, so no route goes undocumented. */
  doc: RouteDoc;
}

/** A credential a route accepts, as the OpenAPI document names its security scheme. */
export type Credential = 'apiKey' | 'adminToken' | 'accessToken';

export interface RouteDoc {
  /** The OpenAPI path template, e.g. `/identity/users/{user_id}`; its parameters are the pattern's groups, in order. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: 'Tokens' | 'Users' | 'Organizations' | 'Webhooks' | 'Discovery' | 'Health';
  /** Each entry is one credential the route accepts; empty for public routes. */
  security: Credential[];
  /** Also answers without credentials, with less (the readiness probe). */
  isCredentialOptional?: boolean;
  requestBody?: z.ZodType;
  /** Answers other than errors, by status. */
  responses: Partial<Record<number, z.ZodType>>;
  /**
   * The error codes the route answers besides those every route can (`server_error`, body errors)
   * and those its credentials bring (e.g. `invalid_api_key`), which the document adds itself.
   */
  errors: RialtoErrorCode[];
  /** `Cache-Control` of its success answers; errors are always `no-store`. @default 'no-store' */
  cacheControl?: 'no-store' | 'public';
}

export interface RouteMatch {
  route: Route;
  params: string[];
}

export interface RouteTable {
  /** Whether some route serves this path, whatever the method. */
  handlesPath(path: string): boolean;
  /** Routes whose pattern matches the path, with their decoded path parameters. */
  match(path: string): RouteMatch[];
}

export function createRouteTable(routes: Route[]): RouteTable {
  // The hot paths (`/identity/auth/exchange`, `/refresh`) match routes without parameters, whose
  // patterns are anchored literals: their matches are worked out once. Each such pattern matches one
  // path, so the map holds at most one entry per route.
  const literalMatches = new Map<string, RouteMatch[]>();

  return {
    handlesPath: (path) => literalMatches.has(path) || routes.some((route) => route.pattern.test(path)),
    match(path) {
      const known = literalMatches.get(path);
      if (known) return known;
      const found: RouteMatch[] = [];
      for (const route of routes) {
        const match = route.pattern.exec(path);
        if (match) found.push({ route, params: match.slice(1).map(decodePathSegment) });
      }
      if (found.length > 0 && found.every(({ params }) => params.length === 0))
        literalMatches.set(path, found);
      return found;
    },
  };
}

/** `/^\/identity\/users\/([^/]+)$/` → `/identity/users/:id`: the pattern's literal parts, `:id` per parameter. */
export function routeTemplate(pattern: RegExp): string {
  return pattern.source
    .replace(/^\^|\$$/g, '')
    .replace(/\((?:[^()\\]|\\.)*\)/g, ':id')
    .replace(/\\(.)/g, '$1');
}

/** A pattern matching exactly `path`, for routes whose path is configurable. */
export function literalPattern(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Ids in paths are UUIDs; anything else cannot name a record, so it need not reach the store. */
export function isUuid(value: string | undefined): value is string {
  return value !== undefined && UUID.test(value);
}

/**
 * Parses and validates a JSON body.
 * @throws RialtoError `invalid_request` naming the first offending field
 */
export function parseBody<T>(schema: z.ZodType<T>, request: RequestLike): T {
  return validateInput(schema, parseJsonBody(request.body, 'invalid_request'));
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
