import { memoryStore } from '@rialto-exchange/storage-adapters';
import { describe, expect, it } from 'vitest';
import { createRialtoExchange } from './create-rialto-exchange.js';

describe('createRialtoExchange', () => {
  it.each([
    ['health', { health: { livePath: '/.well-known/jwks.json' } }],
    ['openapi', { openapi: { path: '/health/ready' } }],
  ])('refuses a %s path that another route already serves, instead of shadowing one of them', (_, paths) => {
    const create = () =>
      createRialtoExchange({
        issuer: 'http://localhost:3000',
        store: memoryStore(),
        logger: false,
        ...paths,
      });
    expect(create).toThrow(TypeError);
    expect(create).toThrow(/is declared twice/);
  });
});
