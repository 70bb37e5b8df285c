import { type CredentialServices, createCredentialCheck, requireSameOrganization } from './credentials.js';
import type { RequestLike, ResponseLike } from './http-types.js';
import { parseBody, parseQuery, type Route } from './route.js';

/** A request's path parameters, by name. */
export type Params = Readonly<Record<string, string>>;

/** A route ready to serve: its credential check built once. */
export interface ServedRoute {
  readonly route: Route;
  /**
   * Checks the route's credentials, binds `{org_id}`, parses its body, then runs it.
   * @throws RialtoError from any of these steps
   */
  serve(request: RequestLike, params: Params): Promise<ResponseLike>;
}

export interface RouteMatch {
  served: ServedRoute;
  params: Params;
}

export interface RouteTable {
  /** Whether some route serves this path, whatever the method. */
  handlesPath(path: string): boolean;
  /** The routes whose template matches the path (one per method), with its decoded parameters. */
  match(path: string): readonly RouteMatch[];
}

const NO_PARAMS: Params = Object.freeze({});

/**
 * Matches paths against the routes' templates. A path without parameters (the hot paths
 * `/identity/auth/exchange` and `/refresh`) is one map lookup, whose answer, including any template
 * with parameters that also matches it, is worked out here, once; other paths try each template.
 * @throws TypeError when two routes share a method and a template (whatever their parameters' names)
 */
export function createRouteTable(routes: readonly Route[], services: CredentialServices): RouteTable {
  const literalMatches = new Map<string, RouteMatch[]>();
  const parametric: ServedRoute[] = [];
  const declared = new Set<string>();
  for (const route of routes) {
    const shape = `${route.method} ${route.label}`;
    if (declared.has(shape)) {
      throw new TypeError(
        `route "${route.method} ${route.path}" is declared twice (a configured path, such as the health or openapi option's, may name another route)`,
      );
    }
    declared.add(shape);
    const served = serveRoute(route, services);
    if (route.pattern === undefined) {
      const matches = literalMatches.get(route.path) ?? [];
      matches.push({ served, params: NO_PARAMS });
      literalMatches.set(route.path, matches);
    } else {
      parametric.push(served);
    }
  }
  for (const [path, matches] of literalMatches) {
    for (const served of parametric) {
      const params = paramsOf(served.route, path);
      if (params) matches.push({ served, params });
    }
  }
  // One expression for every template, so a host's own paths are passed on after a single test.
  const anyTemplate = new RegExp(
    `^(?:${parametric.map(({ route }) => route.pattern?.source.slice(1, -1)).join('|') || '(?!)'})$`,
  );

  return {
    handlesPath: (path) => literalMatches.has(path) || anyTemplate.test(path),
    match(path) {
      const known = literalMatches.get(path);
      if (known) return known;
      const found: RouteMatch[] = [];
      for (const served of parametric) {
        const params = paramsOf(served.route, path);
        if (params) found.push({ served, params });
      }
      return found;
    },
  };
}

function serveRoute(route: Route, services: CredentialServices): ServedRoute {
  if (route.handlesRequestItself) {
    return {
      route,
      serve: (request, params) => route.run(request, params, undefined, undefined, undefined),
    };
  }
  const authenticate = createCredentialCheck(route.credentials, services);
  const { body: bodySchema, query: querySchema, bindsOrganization } = route;
  return {
    route,
    async serve(request, params) {
      const caller = authenticate === undefined ? undefined : await authenticate(request);
      if (bindsOrganization && caller !== undefined) requireSameOrganization(caller, params.org_id as string);
      const query = querySchema === undefined ? undefined : parseQuery(querySchema, request);
      const body = bodySchema === undefined ? undefined : parseBody(bodySchema, request);
      return route.run(request, params, caller, body, query);
    },
  };
}

function paramsOf(route: Route, path: string): Params | undefined {
  const match = route.pattern?.exec(path);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  route.paramNames.forEach((name, index) => {
    params[name] = decodePathSegment(match[index + 1] as string);
  });
  return params;
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
