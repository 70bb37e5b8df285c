import { describe, expect, it } from 'vitest';
import { json } from './messages.js';
import { declareRoute, type RouteKey } from './route.js';

const answer = async () => json(200, {});
const declare = (route: RouteKey) =>
  declareRoute({
    route,
    credentials: [],
    operationId: 'test',
    summary: 'test',
    tag: 'Users',
    responses: {},
    errors: [],
    run: answer,
  });

describe('declareRoute', () => {
  it.each([
    ['POST /identity/auth/exchange', '/identity/auth/exchange', []],
    ['GET /.well-known/jwks.json', '/.well-known/jwks.json', []],
    ['GET /identity/users/{user_id}', '/identity/users/:id', ['user_id']],
    [
      'DELETE /identity/organizations/{org_id}/api-keys/{api_key_id}',
      '/identity/organizations/:id/api-keys/:id',
      ['org_id', 'api_key_id'],
    ],
  ] as const)('derives from %s the label %s, whatever ids a request carries', (key, label, paramNames) => {
    const route = declare(key);
    const [method, path] = key.split(' ');
    expect(route).toMatchObject({ method, path, label, spanName: `${method} ${label}`, paramNames });
  });

  it('matches a template segment by segment, a parameter being any one non-empty segment', () => {
    const { pattern } = declare('GET /identity/users/{user_id}/role');
    expect(pattern?.exec('/identity/users/abc%2Fdef/role')?.slice(1)).toEqual(['abc%2Fdef']);
    for (const path of ['/identity/users//role', '/identity/users/a/b/role', '/identity/users/a/role/x']) {
      expect(pattern?.test(path), path).toBe(false);
    }
  });

  it('keeps literal dots literal', () => {
    const { pattern } = declare('GET /v1.0/users/{user_id}');
    expect(pattern?.test('/v1.0/users/abc')).toBe(true);
    expect(pattern?.test('/v1x0/users/abc')).toBe(false);
  });

  it.each([
    ['FETCH /identity/users', /expected a method and a path/],
    ['GET identity/users', /expected a method and a path/],
    ['GET /identity//users', /"" is neither a literal segment nor a \{parameter\}/],
    ['GET /identity/users/', /"" is neither/],
    ['GET /identity/users/{id}x', /"\{id\}x" is neither/],
    ['GET /identity/users/{userId}', /"\{userId\}" is neither/],
    ['GET /a/{id}/b/{id}', /\{id\} appears twice/],
  ])('refuses the key %s with a TypeError naming the mistake', (key, message) => {
    expect(() => declare(key as RouteKey)).toThrow(TypeError);
    expect(() => declare(key as RouteKey)).toThrow(message);
  });

  it.each([
    [[], 'none'],
    [['adminToken'], 'bearer'],
    [['apiKey'], 'api_key'],
    [['apiKey', 'adminToken'], 'api_key'],
    [['apiKey', 'accessToken'], 'bearer'],
    [['apiKey', 'orgAdminToken'], 'bearer'],
  ] as const)('challenges a 401 of a route taking %j with %s', (credentials, challenge) => {
    const route = declareRoute({
      route: 'GET /x',
      credentials,
      operationId: 'x',
      summary: 'x',
      tag: 'Users',
      responses: {},
      errors: [],
      run: answer,
    });
    expect(route.challenge).toBe(challenge);
  });
});
