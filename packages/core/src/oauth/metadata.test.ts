import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import {
  authorizationServerMetadata,
  authorizationServerMetadataLocation,
  authorizationServerMetadataSchema,
} from './metadata.js';

const options = { issuer: 'https://api.example.com/auth', dpopSigningAlgorithms: ['ES256', 'EdDSA'] };

/** A fetch that serves `metadata` at `at` and records every URL asked for. */
function serving(at: string, metadata: unknown) {
  const asked: string[] = [];
  const fetch = async (url: string) => {
    asked.push(url);
    return url === at
      ? Response.json(metadata)
      : new Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } });
  };
  return { fetch, asked };
}

describe('authorizationServerMetadata', () => {
  it('builds the RFC 8414 metadata from the issuer', () => {
    expect(authorizationServerMetadata(options)).toEqual({
      issuer: 'https://api.example.com/auth',
      token_endpoint: 'https://api.example.com/auth/oauth/token',
      revocation_endpoint: 'https://api.example.com/auth/oauth/revoke',
      introspection_endpoint: 'https://api.example.com/auth/oauth/introspect',
      jwks_uri: 'https://api.example.com/auth/.well-known/jwks.json',
      grant_types_supported: [
        'urn:ietf:params:oauth:grant-type:token-exchange',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'refresh_token',
      ],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
    });
  });

  it('matches its own strict schema, and drops a trailing slash of the issuer', () => {
    const metadata = authorizationServerMetadata({ ...options, issuer: 'https://api.example.com/' });
    expect(authorizationServerMetadataSchema.parse(metadata)).toEqual(metadata);
    expect(metadata.issuer).toBe('https://api.example.com');
    expect(metadata.token_endpoint).toBe('https://api.example.com/oauth/token');
  });
});

describe('authorizationServerMetadataLocation', () => {
  it.each([
    ['https://api.example.com', 'https://api.example.com/.well-known/oauth-authorization-server'],
    ['https://api.example.com/auth', 'https://api.example.com/.well-known/oauth-authorization-server/auth'],
    ['https://api.example.com/a/b/', 'https://api.example.com/.well-known/oauth-authorization-server/a/b'],
    ['http://localhost:3000/auth', 'http://localhost:3000/.well-known/oauth-authorization-server/auth'],
  ])('puts the metadata of %s at %s (RFC 8414 §3.1), where oauth4webapi looks', async (issuer, url) => {
    expect(authorizationServerMetadataLocation(issuer)).toEqual({ url, path: new URL(url).pathname });
    const { fetch, asked } = serving(url, {});
    await oauth.discoveryRequest(new URL(issuer), {
      algorithm: 'oauth2',
      [oauth.customFetch]: fetch,
      [oauth.allowInsecureRequests]: true,
    });
    expect(asked).toEqual([url]);
  });

  it('serves metadata that oauth4webapi accepts for the issuer it was asked about', async () => {
    for (const issuer of ['https://api.example.com', 'https://api.example.com/auth']) {
      const metadata = authorizationServerMetadata({ ...options, issuer });
      const accepted = await oauth.processDiscoveryResponse(new URL(issuer), Response.json(metadata));
      expect(accepted).toEqual(metadata);
    }
  });

  it('serves metadata from which openid-client discovers the endpoints', async () => {
    const metadata = authorizationServerMetadata(options);
    const { fetch } = serving(authorizationServerMetadataLocation(options.issuer).url, metadata);
    const config = await client.discovery(
      new URL(options.issuer),
      'org-id',
      undefined,
      client.ClientSecretBasic('k'),
      {
        algorithm: 'oauth2',
        [client.customFetch]: fetch,
      },
    );
    expect(config.serverMetadata()).toMatchObject({
      token_endpoint: 'https://api.example.com/auth/oauth/token',
      revocation_endpoint: 'https://api.example.com/auth/oauth/revoke',
      introspection_endpoint: 'https://api.example.com/auth/oauth/introspect',
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
    });
  });
});
