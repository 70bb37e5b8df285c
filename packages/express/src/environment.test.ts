import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { optionsFromEnvironment } from './environment.js';

describe('optionsFromEnvironment', () => {
  it('reads nothing from an empty environment', () => {
    expect(optionsFromEnvironment({})).toEqual({});
  });

  it('reads the issuer, admin token, refresh secret and a PEM key', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const pem = await exportPKCS8(privateKey);
    expect(
      optionsFromEnvironment({
        RIALTO_ISSUER: 'https://api.example.com',
        RIALTO_ADMIN_TOKEN: 'admin-token-from-vault',
        RIALTO_REFRESH_TOKEN_SECRET: 's'.repeat(32),
        RIALTO_ACCESS_TOKEN_KEY: `\n${pem}\n`,
      }),
    ).toEqual({
      issuer: 'https://api.example.com',
      adminToken: 'admin-token-from-vault',
      refreshTokenSecret: 's'.repeat(32),
      accessTokenKey: pem.trim(),
    });
  });

  it('reads a JWK given as JSON', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    expect(optionsFromEnvironment({ RIALTO_ACCESS_TOKEN_KEY: JSON.stringify(jwk) }).accessTokenKey).toEqual(
      jwk,
    );
  });

  it('refuses malformed JSON without echoing the secret', () => {
    const secret = '{"kty":"EC","d":"very-secret-material"';
    expect(() => optionsFromEnvironment({ RIALTO_ACCESS_TOKEN_KEY: secret })).toThrow(
      /RIALTO_ACCESS_TOKEN_KEY starts with "\{" but is not valid JSON$/,
    );
    try {
      optionsFromEnvironment({ RIALTO_ACCESS_TOKEN_KEY: secret });
    } catch (error) {
      expect(String(error)).not.toContain('very-secret-material');
    }
  });
});
