import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import { checkIdTokenAudience } from './id-token-audience.js';

function verdict(claims: { aud?: unknown; azp?: unknown }, trusted: string[]): string {
  try {
    checkIdTokenAudience(claims, trusted);
    return 'accepted';
  } catch (error) {
    return error instanceof RialtoError ? error.code : 'not a RialtoError';
  }
}

describe('checkIdTokenAudience', () => {
  const trusted = ['web', 'android'];

  it.each<[string, { aud?: unknown; azp?: unknown }, string]>([
    ['one trusted aud', { aud: 'web' }, 'accepted'],
    ['one trusted aud in a list', { aud: ['web'] }, 'accepted'],
    ['one trusted aud, any azp', { aud: 'web', azp: 'elsewhere' }, 'accepted'],
    ['two trusted auds with a trusted azp', { aud: ['web', 'android'], azp: 'android' }, 'accepted'],
    ['two trusted auds without azp', { aud: ['web', 'android'] }, 'invalid_audience'],
    ['two trusted auds with an untrusted azp', { aud: ['web', 'android'], azp: 'x' }, 'invalid_audience'],
    ['a trusted and an untrusted aud', { aud: ['web', 'x'], azp: 'web' }, 'invalid_audience'],
    ['azp without aud', { azp: 'web' }, 'invalid_audience'],
    ['an untrusted aud with a trusted azp', { aud: 'x', azp: 'web' }, 'invalid_audience'],
    ['an empty aud', { aud: '' }, 'invalid_audience'],
    ['an object aud', { aud: { web: true } }, 'invalid_audience'],
  ])('%s → %s', (_, claims, expected) => {
    expect(verdict(claims, trusted)).toBe(expected);
  });

  it('accepts any present aud when no client ids are trusted, and still requires one', () => {
    expect(verdict({ aud: ['a', 'b'] }, [])).toBe('accepted');
    expect(verdict({}, [])).toBe('invalid_audience');
  });
});
