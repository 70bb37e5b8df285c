import type { Services } from '../../services.js';
import { respond } from '../messages.js';
import { type OpenApiDocument, openApiDocument } from '../openapi.js';
import { declareRoute, type Route, type RouteKey } from '../route.js';
import { openApiDocumentResponseSchema } from '../wire-format.js';

// The document changes only with a new release: caches may keep it like the other public documents.
const PUBLIC_CACHE = { 'cache-control': 'public, max-age=300' };

/** `GET` the OpenAPI 3.1 document of `documented` and of itself, unless the `openapi` option is `false`. */
export function openApiRoutes({ options }: Services, documented: readonly Route[]): Route[] {
  const { openapi } = options;
  if (openapi === false) return [];
  let document: OpenApiDocument | undefined;
  const route: Route = declareRoute({
    route: `GET ${openapi.path}` as RouteKey,
    credentials: [],
    operationId: 'getOpenApiDocument',
    summary: 'This document: the OpenAPI 3.1 description of every route',
    tag: 'Discovery',
    responses: { 200: openApiDocumentResponseSchema },
    errors: [],
    cacheControl: 'public',
    async run() {
      // Built on first request, not at start-up: most instances are never asked for it.
      document ??= openApiDocument([...documented, route]);
      return respond(200, openApiDocumentResponseSchema, document, PUBLIC_CACHE);
    },
  });
  return [route];
}
