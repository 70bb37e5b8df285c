import type { z } from 'zod';
import { RialtoError, type RialtoErrorCode } from '../errors.js';
import { validateInput } from '../internal/validate-input.js';
import type { OAuthEndpoint } from '../oauth/error-mapping.js';
import { type CallerFor, type Credential, challengeFor } from './credentials.js';
import type { RequestLike, ResponseLike } from './http-types.js';
import { type AuthScheme, parseJsonBody } from './messages.js';

/** An OAuth endpoint: its form body, and how it answers its errors. */
export interface OAuthRoute {
  endpoint: OAuthEndpoint;
  /** Its `application/x-www-form-urlencoded` body, as the document describes it. */
  form: z.ZodType;
  /**
   * Answers whatever `run` throws as RFC 6749 §5.2 says, in place of the service's own error format:
   * every OAuth endpoint answers its errors here, the route table's one way.
   */
  answerError(error: unknown, request: RequestLike): ResponseLike;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A method and a path template, e.g. `'PATCH /identity/users/{user_id}'`. */
export type RouteKey = `${HttpMethod} /${string}`;

/** The names of a template's parameters: `'user_id'` for `'/identity/users/{user_id}'`. */
export type PathParameter<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParameter<Rest>
  : never;

/** A route's decoded path parameters, by the names its template gives them. */
export type PathParams<K extends string> = { readonly [Name in PathParameter<K>]: string };

export type RouteTag = 'Tokens' | 'Users' | 'Organizations' | 'Webhooks' | 'Keys' | 'Discovery' | 'Health';

/**
 * One route, declared once: the route table matches requests with its template, checks its
 * credentials and parses its body before `run`, names it in metrics and spans, and the OpenAPI
 * document describes it, all from these fields.
 *
 * @typeParam K the method and path template
 * @typeParam C the credentials it accepts
 * @typeParam B the body `run` receives, parsed with `body`
 * @typeParam S `true` when `run` reads the raw request itself (see `handlesRequestItself`)
 * @typeParam Q the query parameters `run` receives, parsed with `query`
 */
export interface RouteDeclaration<
  K extends RouteKey,
  C extends Credential,
  B,
  S extends boolean,
  Q = undefined,
> {
  /**
   * The method, then the path template relative to the mount path, e.g.
   * `'PATCH /identity/users/{user_id}'`: a parameter is a whole segment, `{snake_case}`, matching any
   * non-empty segment; the rest is literal. A template naming `{org_id}` acts on that organization:
   * an API key or access token of another organization is refused (`org_mismatch`) before the body
   * is read.
   */
  route: K;
  /** Who may call it (see `Credential`); empty for public routes. */
  credentials: readonly C[];
  /**
   * The route table neither checks the credentials nor parses the body: `run` reads both from the
   * request. For the exchange, whose pipeline checks the API key and reads the body as its first steps
   * (so the debugger reports them and a refusal is audited like any failed exchange), and for
   * refresh and revoke, whose bad bodies answer their own errors. Credentials and body are still
   * documented, and the challenge of a 401 still comes from `credentials`.
   */
  handlesRequestItself?: S;
  /** The JSON body, validated before `run` (a failure is `invalid_request` naming the field). */
  body?: z.ZodType<B>;
  /**
   * The query parameters, an object of optional strings (or values coerced from them), validated
   * before `run` like the body: an unknown, repeated or invalid parameter is `invalid_request`
   * naming it. The OpenAPI document lists each as a query parameter.
   */
  query?: z.ZodObject<z.ZodRawShape, z.core.$ZodObjectConfig> & z.ZodType<Q>;
  /**
   * An OAuth endpoint, which reads its own form body and authenticates its own client (with
   * `handlesRequestItself`): the document describes `form` as its
   * `application/x-www-form-urlencoded` body, and its errors as OAuth error bodies, those the
   * endpoint may answer (`ENDPOINT_ERRORS`), in place of `errors`.
   */
  oauth?: OAuthRoute;
  operationId: string;
  summary: string;
  description?: string;
  tag: RouteTag;
  /** Answers other than errors, by status. */
  responses: Partial<Record<number, z.ZodType>>;
  /**
   * The error codes the route answers besides those every route can (`server_error`, body errors)
   * and those its credentials bring (e.g. `invalid_api_key`), which the document adds itself.
   */
  errors: RialtoErrorCode[];
  /** `Cache-Control` of its success answers; errors are always `no-store`. @default 'no-store' */
  cacheControl?: 'no-store' | 'public';
  /**
   * Answers an authenticated request. Positional arguments, so serving a request allocates no
   * context object.
   */
  run(
    request: RequestLike,
    params: PathParams<K>,
    caller: S extends true ? undefined : CallerFor<C>,
    body: S extends true ? undefined : B,
    query: S extends true ? undefined : Q,
  ): Promise<ResponseLike>;
}

/** A declared route, with what its key says worked out once. */
export interface Route extends RouteDeclaration<RouteKey, Credential, unknown, boolean, unknown> {
  readonly method: HttpMethod;
  /** The path template, as the OpenAPI document names it: `/identity/users/{user_id}`. */
  readonly path: string;
  /** The template's parameter names, in order. */
  readonly paramNames: readonly string[];
  /** Matches the path and captures its parameters; `undefined` for a path without any. */
  readonly pattern: RegExp | undefined;
  /**
   * The route in metrics (`route` label) and spans (`http.route`): the template with `:id` for each
   * parameter, as `/identity/users/:id`, so labels stay bounded and hold no id.
   */
  readonly label: string;
  /** The name of its span: method and label, `GET /identity/users/:id`. */
  readonly spanName: string;
  /** The challenge of its 401s. */
  readonly challenge: AuthScheme;
  /** Whether `{org_id}` binds organization credentials to that organization. */
  readonly bindsOrganization: boolean;
}

/**
 * Declares a route (see `RouteDeclaration`); the types of `run`'s parameters follow from the key,
 * the credentials and the body schema.
 * @throws TypeError when the key is not a method and a template of literal and `{name}` segments
 */
export function declareRoute<
  const K extends RouteKey,
  C extends Credential = never,
  B = undefined,
  S extends boolean = false,
  Q = undefined,
>(declaration: RouteDeclaration<K, C, B, S, Q>): Route {
  const { method, path, paramNames, pattern, label } = parseRouteKey(declaration.route);
  return {
    ...(declaration as unknown as RouteDeclaration<RouteKey, Credential, unknown, boolean, unknown>),
    method,
    path,
    paramNames,
    pattern,
    label,
    spanName: `${method} ${label}`,
    challenge: challengeFor(declaration.credentials),
    bindsOrganization: paramNames.includes('org_id'),
  };
}

const ROUTE_KEY = /^(GET|POST|PUT|PATCH|DELETE) (\/\S*)$/;
const PARAMETER_SEGMENT = /^\{([a-z][a-z0-9_]*)\}$/;
// The characters the `routePath` option allows, so configured paths are templates too.
const LITERAL_SEGMENT = /^[A-Za-z0-9._~-]+$/;

interface ParsedRouteKey {
  method: HttpMethod;
  path: string;
  paramNames: string[];
  pattern: RegExp | undefined;
  label: string;
}

function parseRouteKey(key: string): ParsedRouteKey {
  const [, method, path] = ROUTE_KEY.exec(key) ?? [];
  if (method === undefined || path === undefined) {
    throw new TypeError(
      `route "${key}": expected a method and a path, such as "GET /identity/users/{user_id}"`,
    );
  }
  const paramNames: string[] = [];
  const source: string[] = [];
  const label: string[] = [];
  for (const segment of path.slice(1).split('/')) {
    const name = PARAMETER_SEGMENT.exec(segment)?.[1];
    if (name !== undefined) {
      if (paramNames.includes(name)) throw new TypeError(`route "${key}": {${name}} appears twice`);
      paramNames.push(name);
      source.push('([^/]+)');
      label.push(':id');
    } else if (LITERAL_SEGMENT.test(segment)) {
      source.push(segment.replaceAll('.', '\\.'));
      label.push(segment);
    } else {
      throw new TypeError(`route "${key}": "${segment}" is neither a literal segment nor a {parameter}`);
    }
  }
  return {
    method: method as HttpMethod,
    path,
    paramNames,
    pattern: paramNames.length === 0 ? undefined : new RegExp(`^\\/${source.join('\\/')}$`),
    label: `/${label.join('/')}`,
  };
}

/**
 * Parses and validates a JSON body.
 * @throws RialtoError `invalid_request` naming the first offending field
 */
export function parseBody<T>(schema: z.ZodType<T>, request: RequestLike): T {
  return validateInput(schema, parseJsonBody(request.body, 'invalid_request'));
}

/**
 * Parses and validates a query string: each parameter at most once.
 * @throws RialtoError `invalid_request` naming the offending parameter
 */
export function parseQuery<T>(schema: z.ZodType<T>, request: RequestLike): T {
  const values: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(request.query ?? '')) {
    if (Object.hasOwn(values, name)) {
      throw new RialtoError('invalid_request', `${name.slice(0, 64)}: may be given once only`);
    }
    values[name] = value;
  }
  return validateInput(schema, values);
}
