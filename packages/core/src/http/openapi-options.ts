import { orFalse, routePath, strictOptions } from '../options/schema-helpers.js';

/** Where the router serves its OpenAPI document by default, beside the routes it describes. */
export const DEFAULT_OPENAPI_PATH = '/identity/openapi.json';

/** The route serving the OpenAPI 3.1 document of every route (`GET`, public, no credentials). */
export interface OpenApiOptions {
  /** Relative to where the exchange is mounted. @default '/identity/openapi.json' */
  path?: string;
}

export type ResolvedOpenApiOptions = Required<OpenApiOptions> | false;

/** The `openapi` option: validated and defaulted in one place, as every other option is. */
export const openApiOptionsSchema = orFalse(
  strictOptions({ path: routePath(DEFAULT_OPENAPI_PATH) }),
  'an object { path? }',
).prefault({});
