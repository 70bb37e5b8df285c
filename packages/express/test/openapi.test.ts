import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenApiDocument } from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { Ajv2020 } from 'ajv/dist/2020.js';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { rialtoExchange } from '../src/index.js';
import { createTestApp } from './helpers.js';

const committed = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'openapi.json'), 'utf8'),
) as OpenApiDocument;

type Operations = Record<string, Record<string, { responses: Record<string, unknown> }>>;

describe('the OpenAPI document', () => {
  it('is served at GET /identity/openapi.json, public and cacheable, equal to docs/openapi.json', async () => {
    const { app } = createTestApp();
    const response = await request(app).get('/identity/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['cache-control']).toBe('public, max-age=300');
    expect(response.body).toEqual(committed);
  });

  it('documents a path for every route, and each documented path reaches its route', async () => {
    const { router } = createTestApp();
    const paths = committed.paths as Operations;
    expect(Object.keys(paths).length).toBeGreaterThan(20);
    for (const [template, operations] of Object.entries(paths)) {
      const path = template.replace(/\{[^}]+\}/g, () => randomUUID());
      for (const method of Object.keys(operations)) {
        const response = await router.exchange.handle({ method: method.toUpperCase(), path, headers: {} });
        expect({ route: `${method} ${template}`, status: response?.status }).not.toEqual({
          route: `${method} ${template}`,
          status: undefined,
        });
        expect(response?.status, `${method} ${template}`).not.toBe(405);
      }
    }
  });

  it('names every error code a route answers under its status, with the error envelope', () => {
    const exchange = (committed.paths as Operations)['/identity/auth/exchange']?.post?.responses ?? {};
    expect(Object.keys(exchange)).toEqual([
      '200',
      '400',
      '401',
      '403',
      '409',
      '413',
      '415',
      '429',
      '500',
      '502',
      '503',
    ]);
    expect(JSON.stringify(exchange['401'])).toContain('"enum":["missing_api_key","invalid_api_key"');
    expect(JSON.stringify(exchange['401'])).toContain('#/components/headers/WWW-Authenticate');
    expect(JSON.stringify(exchange['429'])).toContain('#/components/headers/Retry-After');
  });

  it('has components that are valid JSON Schema 2020-12, with no field left open', () => {
    const ajv = new Ajv2020({ strict: false });
    const schemas = (committed.components as { schemas: Record<string, Record<string, unknown>> }).schemas;
    for (const [id, schema] of Object.entries(schemas)) {
      expect(ajv.validateSchema(schema), `${id}: ${ajv.errorsText()}`).toBe(true);
      if (schema.type === 'object' && id !== 'OpenApiDocument') {
        // Request bodies the exchange reads by hand are open; every answer is strict.
        if (id === 'ExchangeRequest' || id === 'ExplainRequest' || id === 'RefreshRequest') continue;
        // OAuth form bodies ignore parameters they do not know (RFC 6749 §3.2).
        if (id === 'OAuthRevocationRequest' || id === 'OAuthIntrospectionRequest') continue;
        expect(schema.additionalProperties, id).toBe(false);
      }
    }
  });

  it('follows the configured paths, and is not served with openapi: false', async () => {
    const moved = express();
    moved.use(
      rialtoExchange({
        issuer: 'http://localhost:3000',
        store: memoryStore(),
        health: { livePath: '/livez', readyPath: '/readyz' },
        openapi: { path: '/docs/api.json' },
      }),
    );
    const response = await request(moved).get('/docs/api.json');
    expect(response.status).toBe(200);
    const paths = Object.keys((response.body as OpenApiDocument).paths);
    expect(paths).toEqual(expect.arrayContaining(['/livez', '/readyz', '/docs/api.json']));
    expect(paths).not.toContain('/health/live');
    expect((await request(moved).get('/identity/openapi.json')).status).toBe(404);

    const hidden = express();
    hidden.use(rialtoExchange({ issuer: 'http://localhost:3000', store: memoryStore(), openapi: false }));
    expect((await request(hidden).get('/identity/openapi.json')).status).toBe(404);
  });

  it('refuses a mistyped openapi option at start-up, naming the closest key', () => {
    expect(() =>
      rialtoExchange({
        issuer: 'http://localhost:3000',
        store: memoryStore(),
        openapi: { paht: '/x' } as never,
      }),
    ).toThrow('unknown option `paht`; did you mean `path`? (in `openapi`)');
    expect(() =>
      rialtoExchange({
        issuer: 'http://localhost:3000',
        store: memoryStore(),
        openapi: { path: 'no-slash' },
      }),
    ).toThrow(/openapi\.path/);
  });
});
