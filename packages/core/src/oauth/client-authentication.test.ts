import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import { createApiKeys, generateApiKey } from '../organizations/api-keys.js';
import type { ApiKeyRecord, Store } from '../store/store.js';
import { createEvents } from '../telemetry/audit-events.js';
import {
  authenticateClient,
  clientAuthMethodOf,
  readClientCredentials,
  requireClientCredentials,
} from './client-authentication.js';
import type { FormParameters } from './form-body.js';

const basic = (userPass: string) => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;
const encode = (value: string) => encodeURIComponent(value).replaceAll('%20', '+');

function refusal(run: () => unknown): { code: string; description: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RialtoError);
    const { code, description } = error as RialtoError;
    return { code, description };
  }
  throw new Error('expected a refusal');
}

describe('readClientCredentials', () => {
  it('reads client_secret_basic, decoding each part after base64 (RFC 6749 §2.3.1)', () => {
    const clientId = 'org:1+2 %é';
    const secret = 'pa:ss+word %41 ü€';
    const credentials = readClientCredentials(
      { authorization: basic(`${encode(clientId)}:${encode(secret)}`) },
      {},
    );
    expect(credentials).toEqual({ method: 'client_secret_basic', clientId, secret });
  });

  it('splits Basic credentials at the first colon, so an unencoded secret keeps its own', () => {
    expect(readClientCredentials({ authorization: basic('org:se:cret') }, {})).toEqual({
      method: 'client_secret_basic',
      clientId: 'org',
      secret: 'se:cret',
    });
  });

  it('accepts the scheme in any case, and unpadded base64', () => {
    const token = Buffer.from('org:s').toString('base64').replace(/=+$/, '');
    expect(readClientCredentials({ authorization: `bAsIc ${token}` }, {})?.secret).toBe('s');
  });

  it('reads client_secret_post with its client_id', () => {
    expect(readClientCredentials({}, { client_id: 'org', client_secret: 'key' })).toEqual({
      method: 'client_secret_post',
      clientId: 'org',
      secret: 'key',
    });
  });

  it('reads the X-API-Key header, with a client_id from the body when there is one', () => {
    expect(readClientCredentials({ 'x-api-key': 'key' }, {})).toEqual({
      method: 'api_key_header',
      clientId: undefined,
      secret: 'key',
    });
    expect(readClientCredentials({ 'x-api-key': 'key' }, { client_id: 'org' })?.clientId).toBe('org');
  });

  it('finds no credentials in a request without a secret, or with another Authorization scheme', () => {
    expect(readClientCredentials({}, {})).toBeUndefined();
    expect(readClientCredentials({}, { client_id: 'org' })).toBeUndefined();
    expect(readClientCredentials({ authorization: 'Bearer admin-token' }, {})).toBeUndefined();
    expect(readClientCredentials({ authorization: 'Basicx abc' }, {})).toBeUndefined();
    expect(readClientCredentials({ 'x-api-key': '' }, {})).toBeUndefined();
  });

  it.each<[string, Record<string, string>, FormParameters]>([
    ['Basic and client_secret', { authorization: basic('org:key') }, { client_secret: 'key' }],
    ['Basic and X-API-Key', { authorization: basic('org:key'), 'x-api-key': 'key' }, {}],
    ['client_secret and X-API-Key', { 'x-api-key': 'key' }, { client_id: 'org', client_secret: 'key' }],
  ])(
    'refuses two methods in one request (%s) with invalid_request (RFC 6749 §2.3)',
    (_, headers, parameters) => {
      expect(refusal(() => readClientCredentials(headers, parameters))).toEqual({
        code: 'invalid_request',
        description:
          'The client authenticated in more than one way; use exactly one. Authenticate with HTTP Basic (client_secret_basic), client_id and client_secret in the body (client_secret_post), or the X-API-Key header.',
      });
    },
  );

  it('accepts a body client_id equal to the Basic one, and refuses a different one', () => {
    expect(readClientCredentials({ authorization: basic('org:key') }, { client_id: 'org' })?.clientId).toBe(
      'org',
    );
    expect(
      refusal(() => readClientCredentials({ authorization: basic('org:key') }, { client_id: 'other' })),
    ).toEqual({
      code: 'invalid_request',
      description: 'The client_id in the body differs from the one in HTTP Basic.',
    });
  });

  it('refuses client_secret_post without client_id', () => {
    expect(refusal(() => readClientCredentials({}, { client_secret: 'key' }))).toEqual({
      code: 'invalid_request',
      description: 'client_secret_post needs client_id beside client_secret in the body (RFC 6749 §2.3.1).',
    });
  });

  it.each([
    ['no credentials', 'Basic'],
    ['a base64 length no encoder makes', 'Basic abcde'],
    ['padding where none belongs', 'Basic YWJj='],
    ['characters outside base64', 'Basic b3Jn*a2V5'],
    ['no colon', basic('orgkey')],
    ['bytes that are not UTF-8', `Basic ${Buffer.from([0x6f, 0x3a, 0xff]).toString('base64')}`],
  ])('refuses a malformed Basic header (%s) with invalid_request', (_, authorization) => {
    expect(refusal(() => readClientCredentials({ authorization }, {}))).toEqual({
      code: 'invalid_request',
      description: 'The Authorization header must be "Basic " and the base64 of client_id:client_secret.',
    });
  });

  it('refuses Basic parts that are not form-urlencoded', () => {
    expect(refusal(() => readClientCredentials({ authorization: basic('org:100%') }, {}))).toEqual({
      code: 'invalid_request',
      description:
        'The client_id and client_secret in HTTP Basic must each be form-urlencoded (RFC 6749 §2.3.1).',
    });
  });

  it('refuses Basic credentials without a client_id', () => {
    expect(refusal(() => readClientCredentials({ authorization: basic(':key') }, {}))).toEqual({
      code: 'invalid_request',
      description: 'HTTP Basic credentials must name the client_id.',
    });
  });

  it('reads Basic credentials with an empty secret as a Basic attempt, for authenticateClient to refuse', () => {
    expect(readClientCredentials({ authorization: basic('org:') }, {})).toEqual({
      method: 'client_secret_basic',
      clientId: 'org',
      secret: '',
    });
  });
});

describe('requireClientCredentials', () => {
  it('refuses a request without credentials with missing_api_key, which answers 401 invalid_client', () => {
    expect(refusal(() => requireClientCredentials({ headers: {} }, { client_id: 'org' }))).toEqual({
      code: 'missing_api_key',
      description:
        'The client must authenticate. Authenticate with HTTP Basic (client_secret_basic), client_id and client_secret in the body (client_secret_post), or the X-API-Key header.',
    });
  });

  it('records on the request how it authenticated, for the error answer, and nothing for a refused one', () => {
    const viaBasic = { headers: { authorization: basic('org:key') } };
    const viaBody = { headers: {} };
    const without = { headers: {} };
    expect(clientAuthMethodOf(viaBasic)).toBeUndefined();
    requireClientCredentials(viaBasic, {});
    requireClientCredentials(viaBody, { client_id: 'org', client_secret: 'key' });
    expect(() => requireClientCredentials(without, {})).toThrow(RialtoError);
    expect(clientAuthMethodOf(viaBasic)).toBe('client_secret_basic');
    expect(clientAuthMethodOf(viaBody)).toBe('client_secret_post');
    expect(clientAuthMethodOf(without)).toBeUndefined();
  });
});

describe('authenticateClient', () => {
  function apiKeysOf(records: ApiKeyRecord[]) {
    const store = {
      async listActiveApiKeys(orgId: string) {
        return records.filter((record) => record.orgId === orgId && record.revokedAt === null);
      },
    } as Pick<Store, 'listActiveApiKeys'> as Store;
    const silent = { debug() {}, info() {}, warn() {}, error() {} };
    return createApiKeys(store, createEvents(silent), { cacheTtlSeconds: 60, maxCachedOrgs: 10 });
  }

  async function rejection(promise: Promise<unknown>): Promise<{ code: string; description: string }> {
    const error = await promise.then(
      () => {
        throw new Error('expected a refusal');
      },
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RialtoError);
    return { code: (error as RialtoError).code, description: (error as RialtoError).description };
  }

  const orgId = randomUUID();
  const { apiKey, record } = generateApiKey(orgId, 0);
  const revoked = generateApiKey(orgId, 0);
  const apiKeys = apiKeysOf([record, { ...revoked.record, revokedAt: 1 }]);

  it('answers the org of an active key, with or without a matching client_id', async () => {
    for (const clientId of [orgId, undefined]) {
      expect(
        await authenticateClient({ method: 'client_secret_post', clientId, secret: apiKey }, apiKeys),
      ).toBe(orgId);
    }
  });

  it("refuses a client_id other than the key's org with invalid_api_key", async () => {
    const credentials = { method: 'client_secret_basic', clientId: randomUUID(), secret: apiKey } as const;
    expect(await rejection(authenticateClient(credentials, apiKeys))).toEqual({
      code: 'invalid_api_key',
      description: 'The client_id is not the organization that the client_secret belongs to.',
    });
  });

  it('refuses an empty secret with missing_api_key, without asking the store', async () => {
    const credentials = { method: 'client_secret_basic', clientId: orgId, secret: '' } as const;
    const failing = { authenticate: () => Promise.reject(new Error('the store was asked')) };
    expect(await rejection(authenticateClient(credentials, failing))).toEqual({
      code: 'missing_api_key',
      description: 'The client_secret is empty.',
    });
  });

  it('refuses a revoked, unknown or malformed secret with invalid_api_key, client_id or not', async () => {
    const unknown = generateApiKey(orgId, 0).apiKey;
    for (const secret of [revoked.apiKey, unknown, 'not-a-key']) {
      const credentials = { method: 'client_secret_basic', clientId: orgId, secret } as const;
      expect(await rejection(authenticateClient(credentials, apiKeys))).toEqual({
        code: 'invalid_api_key',
        description: 'The API key is not valid for any organization.',
      });
    }
  });
});
