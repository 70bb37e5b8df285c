import { describe, expect, it } from 'vitest';
import { respond } from './messages.js';
import { userDeletedResponseSchema } from './wire-format.js';

describe('respond', () => {
  it('answers the body its strict schema accepts, uncached', () => {
    const userId = '7b0f0c43-2f0e-4a8e-9d1c-6a1b2c3d4e5f';
    expect(respond(200, userDeletedResponseSchema, { user_id: userId, deleted: true })).toEqual({
      status: 200,
      headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
      body: { user_id: userId, deleted: true },
    });
  });

  it('refuses a field the OpenAPI document does not name, so it never reaches a client', () => {
    const body = { user_id: '7b0f0c43-2f0e-4a8e-9d1c-6a1b2c3d4e5f', deleted: true, email: 'a@example.com' };
    expect(() => respond(200, userDeletedResponseSchema, body as never)).toThrow(/email/);
  });
});
