import type { z } from 'zod';
import { named, orFalse, routePath, strictOptions } from '../options/schema-helpers.js';

const openApiOptionsShape = {
  /** Relative to where the exchange is mounted. @default '/identity/openapi.json' */
  path: routePath('/identity/openapi.json'), // beside the routes it describes
};

/** The route serving the OpenAPI 3.1 document of every route (`GET`, public, no credentials). */
export interface OpenApiOptions extends z.input<z.ZodObject<typeof openApiOptionsShape>> {}

export interface ResolvedOpenApiOptions extends z.output<z.ZodObject<typeof openApiOptionsShape>> {}

/** The `openapi` option: validated and defaulted in one place, as every other option is. */
export const openApiOptionsSchema = orFalse(
  named<ResolvedOpenApiOptions, OpenApiOptions>(strictOptions(openApiOptionsShape)),
  'an object { path? }',
).prefault({});
