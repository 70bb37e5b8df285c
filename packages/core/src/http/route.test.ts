import { describe, expect, it } from 'vitest';
import { routeTemplate } from './route.js';

describe('routeTemplate', () => {
  it.each([
    [/^\/identity\/auth\/exchange$/, '/identity/auth/exchange'],
    [/^\/\.well-known\/jwks\.json$/, '/.well-known/jwks.json'],
    [/^\/identity\/users\/([^/]+)$/, '/identity/users/:id'],
    [/^\/identity\/organizations\/([^/]+)\/api-keys\/([^/]+)$/, '/identity/organizations/:id/api-keys/:id'],
  ])('names %s as %s, whatever ids a request carries', (pattern, template) => {
    expect(routeTemplate(pattern)).toBe(template);
  });
});
