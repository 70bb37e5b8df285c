import { z } from 'zod';

/**
 * The request and response schemas of the HTTP API, each under the name the OpenAPI document gives
 * it (`#/components/schemas/<id>`). A registry of its own, not zod's global one, so a host's schemas
 * never leak into the document.
 */
export const apiSchemas = z.registry<{ id: string; description?: string }>();
