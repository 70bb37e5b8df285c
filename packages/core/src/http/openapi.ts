import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { type RialtoErrorCode, statusOf } from '../errors.js';
import { issuerPolicyPatchSchema, issuerRegistrationSchema } from '../issuers/issuer-registrations.js';
import { type OAuthEndpoint, oauthErrorStatuses } from '../oauth/error-mapping.js';
import { tokenRequestSchema } from '../oauth/token-request.js';
import {
  audienceUpdateSchema,
  organizationPatchSchema,
  registrationSchema,
} from '../organizations/organizations.js';
import { userCreationSchema } from '../users/user-lifecycle.js';
import { userRoleSchema } from '../users/user-roles.js';
import { userPatchSchema } from '../users/users.js';
import { webhookCreationSchema, webhookEventTypesSchema } from '../webhooks/webhook-subscriptions.js';
import { apiSchemas } from './api-schemas.js';
import { credentialErrors, type SecurityScheme, securityRequirements } from './credentials.js';
import type { Route } from './route.js';
import {
  errorResponseSchema,
  oauthErrorResponseSchema,
  type openApiDocumentResponseSchema,
} from './wire-format.js';

/** An OpenAPI 3.1 document as JSON. */
export type OpenApiDocument = z.infer<typeof openApiDocumentResponseSchema>;

// The request schemas the routes validate their bodies with, named in the document as they are here.
const REQUEST_SCHEMAS: ReadonlyArray<readonly [z.ZodType, string]> = [
  [registrationSchema, 'OrganizationRegistration'],
  [organizationPatchSchema, 'OrganizationPatch'],
  [audienceUpdateSchema, 'AudienceUpdate'],
  [issuerRegistrationSchema, 'IssuerRegistrationInput'],
  [issuerPolicyPatchSchema, 'IssuerPolicyPatch'],
  [userCreationSchema, 'UserCreation'],
  [userPatchSchema, 'UserPatch'],
  [userRoleSchema, 'UserRoleUpdate'],
  [webhookCreationSchema, 'WebhookCreation'],
  [webhookEventTypesSchema, 'WebhookEventTypes'],
  [tokenRequestSchema, 'OAuthTokenRequest'],
];
for (const [schema, id] of REQUEST_SCHEMAS) if (!apiSchemas.has(schema)) apiSchemas.add(schema, { id });

// The Express binding reads the body of every request it routes, so any operation may answer these.
const BODY_ERRORS: RialtoErrorCode[] = ['request_too_large', 'unsupported_media_type'];

const SECURITY_SCHEMES: Record<SecurityScheme | 'clientSecretBasic', Record<string, string>> = {
  clientSecretBasic: {
    type: 'http',
    scheme: 'basic',
    description:
      'OAuth client authentication (RFC 6749 §2.3.1): the org id and its API key, each form-urlencoded. The OAuth endpoints also take them as `client_id` and `client_secret` in the body, or the key as X-API-Key.',
  },
  apiKey: {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: "An organization's API key (from registration or `POST .../api-keys`).",
  },
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      'The service admin: `adminToken` (RIALTO_ADMIN_TOKEN), or whatever `authorizeAdmin` accepts.',
  },
  accessToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token of this service; org-wide routes take an org admin\u2019s.',
  },
};

const HEADERS = {
  'Cache-Control': {
    description:
      '`no-store` on credentials and errors (RFC 6749 §5.1); `public, max-age=300` on public documents.',
    schema: z.enum(['no-store', 'public, max-age=300']),
  },
  Pragma: { description: '`no-cache` with `no-store`, for HTTP/1.0 caches.', schema: z.literal('no-cache') },
  'WWW-Authenticate': {
    description: 'The challenge of a 401 (RFC 6750 §3 for bearer tokens; `APIKey` for the X-API-Key header).',
    schema: z.string().regex(/realm="rialto"/),
  },
  'Retry-After': {
    description: 'Seconds to wait before retrying.',
    schema: z.string().regex(/^\d+$/),
  },
} satisfies Record<string, { description: string; schema: z.ZodType }>;

type HeaderName = keyof typeof HEADERS;

/**
 * The OpenAPI 3.1 document of `routes`, generated from the zod schemas they validate requests with
 * and build answers with: no part of it is written by hand, so it cannot describe another API.
 * @throws TypeError when a route names a schema that has no id in the API's registry (a bug here)
 */
export function openApiDocument(routes: readonly Route[]): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const operations = paths[route.path] ?? {};
    operations[route.method.toLowerCase()] = operation(route);
    paths[route.path] = operations;
  }
  const { schemas } = z.toJSONSchema(apiSchemas, {
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'rialto-exchange',
      version: '1.0.0',
      description:
        "Exchanges a partner identity provider's ID token for this service's access and refresh tokens, and manages the organizations, users and webhooks behind them. Paths are relative to where the router is mounted.",
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: ['Tokens', 'Users', 'Organizations', 'Webhooks', 'Keys', 'Discovery', 'Health'].map((name) => ({
      name,
    })),
    paths,
    components: {
      schemas: Object.fromEntries(
        Object.entries(schemas)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([id, schema]) => [id, withoutSchemaIdentity(schema)]),
      ),
      headers: Object.fromEntries(
        Object.entries(HEADERS).map(([name, { description, schema }]) => [
          name,
          { description, schema: inlineJsonSchema(schema) },
        ]),
      ),
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

function operation(route: Route): Record<string, unknown> {
  const parameters: Record<string, unknown>[] = route.paramNames.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: inlineJsonSchema(z.string()),
  }));
  for (const [name, schema] of Object.entries(route.query?.shape ?? {})) {
    const field = schema as z.ZodType;
    parameters.push({
      name,
      in: 'query',
      required: !field.safeParse(undefined).success,
      ...(field.description === undefined ? {} : { description: field.description }),
      schema: inlineJsonSchema(field),
    });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(route.responses)) {
    if (schema === undefined) continue;
    const cache = route.cacheControl === 'public' ? ['Cache-Control'] : ['Cache-Control', 'Pragma'];
    responses[status] = {
      description: `${statusText(Number(status))}.`,
      headers: headerRefs(cache as HeaderName[]),
      content: { 'application/json': { schema: schemaRef(schema) } },
    };
  }
  const errorResponses =
    route.oauth === undefined ? rialtoErrorResponses(route) : oauthErrorResponses(route.oauth.endpoint);
  for (const [status, response] of errorResponses) {
    if (responses[status] !== undefined) {
      throw new TypeError(`${route.operationId}: status ${status} is both an answer and an error`);
    }
    responses[status] = response;
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    tags: [route.tag],
    security:
      route.oauth === undefined
        ? securityRequirements(route.credentials)
        : oauthSecurity(route.oauth.endpoint),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...requestBody(route),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b))),
  };
}

// The organization is the OAuth client; introspection also takes the admin token (RFC 7662 §2.1).
function oauthSecurity(endpoint: OAuthEndpoint): Array<Record<string, []>> {
  const client: Array<Record<string, []>> = [{ clientSecretBasic: [] }, { apiKey: [] }];
  return endpoint === 'introspection' ? [...client, { adminToken: [] }] : client;
}

function requestBody(route: Route): Record<string, unknown> {
  if (route.oauth !== undefined) {
    return {
      requestBody: {
        required: true,
        content: { 'application/x-www-form-urlencoded': { schema: schemaRef(route.oauth.form) } },
      },
    };
  }
  if (route.body === undefined) return {};
  return {
    requestBody: { required: true, content: { 'application/json': { schema: schemaRef(route.body) } } },
  };
}

function rialtoErrorResponses(route: Route): Array<[number, unknown]> {
  const errors = [
    ...route.errors,
    ...credentialErrors(route.credentials, route.bindsOrganization),
    ...BODY_ERRORS,
    'server_error' as const,
  ];
  return errorsByStatus(errors).map(([status, codes]) => [status, rialtoErrorResponse(status, codes)]);
}

function rialtoErrorResponse(status: number, codes: [RialtoErrorCode, ...RialtoErrorCode[]]): unknown {
  return {
    description: `${statusText(status)}: ${codes.map((code) => `\`${code}\``).join(', ')}.`,
    headers: headerRefs(errorHeaders(status, codes)),
    content: {
      'application/json': {
        schema: {
          allOf: [schemaRef(errorResponseSchema), { properties: { error: inlineJsonSchema(z.enum(codes)) } }],
        },
      },
    },
  };
}

// RFC 6749 §5.2 bodies; `WWW-Authenticate: Basic` comes only after a failed Basic authentication, so
// it is not documented as always sent.
function oauthErrorResponses(endpoint: OAuthEndpoint): Array<[number, unknown]> {
  // The binding refuses oversize and compressed bodies before any route runs, in its own body.
  const bindingErrors = errorsByStatus(BODY_ERRORS).map(([status, codes]): [number, unknown] => [
    status,
    rialtoErrorResponse(status, codes),
  ]);
  const endpointErrors = oauthErrorStatuses(endpoint).map(([status, codes]): [number, unknown] => {
    const headers: HeaderName[] = ['Cache-Control', 'Pragma'];
    if (codes.includes('temporarily_unavailable')) headers.push('Retry-After');
    return [
      status,
      {
        description: `${statusText(status)}: ${codes.map((code) => `\`${code}\``).join(', ')} (RFC 6749 §5.2).`,
        headers: headerRefs(headers),
        content: {
          'application/json': {
            schema: {
              allOf: [
                schemaRef(oauthErrorResponseSchema),
                { properties: { error: inlineJsonSchema(z.enum(codes as [string, ...string[]])) } },
              ],
            },
          },
        },
      },
    ];
  });
  return [...bindingErrors, ...endpointErrors];
}

function errorsByStatus(codes: RialtoErrorCode[]): Array<[number, [RialtoErrorCode, ...RialtoErrorCode[]]]> {
  const byStatus = new Map<number, [RialtoErrorCode, ...RialtoErrorCode[]]>();
  for (const code of new Set(codes)) {
    const status = statusOf(code);
    const known = byStatus.get(status);
    if (known) known.push(code);
    else byStatus.set(status, [code]);
  }
  return [...byStatus.entries()].sort(([a], [b]) => a - b);
}

function errorHeaders(status: number, codes: readonly RialtoErrorCode[]): HeaderName[] {
  const headers: HeaderName[] = ['Cache-Control', 'Pragma'];
  if (status === 401) headers.push('WWW-Authenticate');
  if (codes.includes('rate_limited') || codes.includes('temporarily_unavailable'))
    headers.push('Retry-After');
  return headers;
}

function headerRefs(names: HeaderName[]): Record<string, unknown> {
  return Object.fromEntries(
    names.map((name) => [
      name,
      // Every documented header is always sent: required.
      { $ref: `#/components/headers/${name}` },
    ]),
  );
}

function schemaRef(schema: z.ZodType): { $ref: string } {
  const id = apiSchemas.get(schema)?.id;
  if (id === undefined)
    throw new TypeError('openApiDocument: a route names a schema without an id in apiSchemas');
  return { $ref: `#/components/schemas/${id}` };
}

function inlineJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return withoutSchemaIdentity(z.toJSONSchema(schema, { io: 'input' }));
}

// Components sit inside the document: no `$schema` of their own, and their name is their address.
function withoutSchemaIdentity(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema, $id, ...rest } = schema;
  return rest;
}

function statusText(status: number): string {
  return STATUS_CODES[status] ?? `HTTP ${status}`;
}
