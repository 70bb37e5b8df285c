import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './client.js';
import {
  ADMIN_TOKEN,
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';
import { LOCAL_WEBHOOKS } from './webhook-fixtures.js';

const INVISIBLE = /: must not contain invisible formatting characters such as bidirectional controls$/;

let idp: LocalIssuer;
let t: TestApp;
let orgId: string;
let apiKey: string;
beforeAll(async () => {
  idp = await startLocalIssuer();
  t = createTestApp({ webhooks: LOCAL_WEBHOOKS });
  ({ orgId, apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer }));
});
afterAll(() => idp.close());

const admin = (path: string) => request(t.app).post(path).set('authorization', `Bearer ${ADMIN_TOKEN}`);

describe('invisible format characters (Unicode Cf) in request bodies', () => {
  it.each([
    ['name', 'U+202E (right-to-left override)', { name: 'Acme\u202Egnp.exe', issuer: 'https://rlo.example' }],
    ['name', 'U+2066 (left-to-right isolate)', { name: '\u2066Acme', issuer: 'https://lri.example' }],
    ['name', 'U+200B (zero-width space)', { name: 'Ac\u200Bme', issuer: 'https://zwsp.example' }],
    ['name', 'U+FEFF (byte order mark)', { name: '\uFEFFAcme', issuer: 'https://bom.example' }],
    ['issuer', 'U+202E in the path', { name: 'Acme', issuer: 'https://idp.example/t\u202Enant' }],
    [
      'client_ids.0',
      'U+202D (left-to-right override)',
      { name: 'Acme', issuer: 'https://cid.example', client_ids: ['web\u202D'] },
    ],
  ])('refuses %s with %s: invalid_request 400, nothing written', async (field, _what, body) => {
    t.store.resetWrites();
    const response = await admin('/identity/organizations').send(body);
    expectFailsWith(
      response,
      400,
      'invalid_request',
      new RegExp(`^${field.replace('.', '\\.')}${INVISIBLE.source}`),
    );
    expect(t.store.writes).toEqual([]);
  });

  it('refuses U+202E in the issuer of a further registration', async () => {
    t.store.resetWrites();
    const response = await admin(`/identity/organizations/${orgId}/issuers`).send({
      issuer: 'https://idp.example/\u202Etenant',
      client_ids: ['web'],
    });
    expectFailsWith(response, 400, 'invalid_request', new RegExp(`^issuer${INVISIBLE.source}`));
    expect(t.store.writes).toEqual([]);
  });

  it.each([
    [
      'description',
      { url: 'http://127.0.0.1:9/hooks', eventTypes: ['user.created'], description: 'KYC\u2067' },
    ],
    ['url', { url: 'http://127.0.0.1:9/ho\u202Eoks', eventTypes: ['user.created'] }],
  ])('refuses a bidirectional control in the webhook %s', async (field, body) => {
    t.store.resetWrites();
    const response = await request(t.app).post('/notifications/webhooks').set('x-api-key', apiKey).send(body);
    expectFailsWith(response, 400, 'invalid_request', new RegExp(`^${field}${INVISIBLE.source}`));
    expect(t.store.writes).toEqual([]);
  });

  it('accepts the zero-width non-joiner a Persian name needs', async () => {
    // "Mehr-Ayin" in Persian, written with U+200C between its parts as Persian orthography requires.
    const response = await admin('/identity/organizations').send({
      name: 'مهر\u200Cآیین',
      issuer: 'https://persian.example',
    });
    expect(response.status).toBe(201);
    expect(response.body.name).toBe('مهر\u200Cآیین');
  });
});

describe('invisible format characters in identity claims', () => {
  it.each([
    ['sub', { sub: 'user\u202E321' }],
    ['email', { email: 'ada\u200B@example.com' }],
  ])('refuses one in %s with invalid_token 400 before any write', async (claim, claims) => {
    t.store.resetWrites();
    const response = await exchange(t.app, apiKey, {
      token: await idp.sign(idTokenClaims(idp.issuer, claims)),
    });
    expectFailsWith(
      response,
      400,
      'invalid_token',
      `The token's ${claim} claim must not contain invisible formatting characters such as bidirectional controls.`,
    );
    expect(t.store.writes).toEqual([]);
  });
});
