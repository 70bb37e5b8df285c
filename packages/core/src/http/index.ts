/**
 * Routes declared once (route.ts), the route table, credentials, wire formats, the OpenAPI document and the fetch binding.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { AdminAuth } from './admin-auth.js';
export { createAdminAuth } from './admin-auth.js';
export type { FetchHandler, FetchHandlerOptions, FetchRequestContext } from './fetch-handler.js';
export { createFetchHandler } from './fetch-handler.js';
export type { HealthOptions } from './health-options.js';
export { healthOptionsSchema } from './health-options.js';
export type { RequestLike, ResponseLike } from './http-types.js';
export type { AuthScheme } from './messages.js';
export { errorResponse, header, isPlainObject, json, parseJsonBody } from './messages.js';
export type { OpenApiDocument } from './openapi.js';
export type { OpenApiOptions } from './openapi-options.js';
export { openApiOptionsSchema } from './openapi-options.js';
export type { RouteMatch } from './route-table.js';
export { createRouteTable } from './route-table.js';
export { adminRoutes } from './routes/admin-routes.js';
export { healthRoutes } from './routes/health-routes.js';
export { oauthRoutes } from './routes/oauth-routes.js';
export { openApiRoutes } from './routes/openapi-routes.js';
export { operatorRoutes } from './routes/operator-routes.js';
export { tokenRoutes } from './routes/token-routes.js';
export { userRoutes } from './routes/user-routes.js';
export { webhookRoutes } from './routes/webhook-routes.js';
export { wellKnownRoutes } from './routes/well-known-routes.js';
export type { oauthIntrospectionResponseSchema, tokenResponseSchema } from './wire-format.js';
export { refreshRequestSchema, userJson, verificationFlagsJson } from './wire-format.js';
