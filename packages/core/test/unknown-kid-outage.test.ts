import { type ExchangeExplanation, exchangeErrorFix, type Logger } from '@rialto-exchange/core';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { request } from './client.js';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  type IssuerBehaviour,
  idTokenClaims,
  type LocalIssuer,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

// A key the service has not seen, while the IdP's documents cannot be fetched: the token may be
// genuine (the IdP rotated keys during its outage), so the answer is "retry later", never "forged".
// The error table of docs/troubleshooting.md: discovery_failed (502) for "a kid the cached key set lacks while the
// IdP cannot be asked"; invalid_signature (401) only for a kid missing from a key set fetched
// successfully, with no failed fetch since.

const DISCOVERY_FAILED = /^The issuer's OpenID configuration or key set could not be retrieved\.$/;
const REFRESH_FAILED = 'refreshing an IdP document failed; the cached copy is still used';
// Far beyond each test's length: every unknown kid below comes within the cooldown of a key set
// fetch, where the service does not refetch.
const COOLDOWN_SECONDS = 600;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let idp: LocalIssuer;
let rotated: { privateKey: CryptoKey; publicJwk: JWK };
beforeAll(async () => {
  idp = await startLocalIssuer();
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  rotated = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: 'rotated-in', alg: 'ES256' } };
});
afterAll(() => idp.close());
beforeEach(() => {
  idp.behaviour = 'ok';
  idp.extraPublicKeys = [];
  idp.counts = { discovery: 0, jwks: 0, other: 0 };
});

const knownKidToken = () => idp.sign(idTokenClaims(idp.issuer));
/** Signed with the key the IdP rotates in: genuine, but not in the key set the service cached. */
const rotatedKidToken = () =>
  idp.sign(idTokenClaims(idp.issuer), { alg: 'ES256', kid: 'rotated-in', key: rotated.privateKey });

function explain(app: TestApp['app'], apiKey: string, token: string) {
  return request(app).post('/identity/auth/exchange/explain').set('x-api-key', apiKey).send({ token });
}

/** Records the warnings of failed background refreshes, so a test can wait for them. */
function warningLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => undefined;
  return {
    warnings,
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (_, message) => warnings.push(String(message)),
  };
}

/** The debugger's answer for a token refused at `signature`, with what the exchange answered. */
async function expectExplainedAtSignature(
  t: TestApp,
  apiKey: string,
  token: string,
  exchanged: { status: number; body: unknown },
) {
  t.store.resetWrites();
  const response = await explain(t.app, apiKey, token);
  expect(response.status).toBe(200);
  const explanation = response.body as ExchangeExplanation;
  expect(explanation.steps.map(({ step, result }) => [step, result])).toEqual([
    ['api_key', 'pass'],
    ['token_shape', 'pass'],
    ['issuer', 'pass'],
    ['discovery', 'pass'],
    ['signature', 'fail'],
    ['times', 'skipped'],
    ['token_type', 'skipped'],
    ['audience', 'skipped'],
    ['claims', 'skipped'],
    ['grant', 'skipped'],
    ['policy', 'skipped'],
    ['linking', 'skipped'],
  ]);
  const signature = explanation.steps[4];
  expect(signature?.seen).toMatchObject({ kid: 'rotated-in', alg: 'ES256' });
  expect(explanation.error).toEqual({ ...(exchanged.body as object), status: exchanged.status });
  expect(signature?.error).toEqual(explanation.error);
  expect(signature?.fix).toBe(exchangeErrorFix('signature', explanation.error?.error ?? 'server_error'));
  expect(t.store.writes).toEqual([]);
  return signature;
}

const FAILURES: [string, IssuerBehaviour][] = [
  ['down (503)', 'down'],
  ['answering 500', 'server-error'],
  ['dropping the connection', 'reset'],
  ['answering HTML', 'html'],
  ['answering a document over the size limit', 'oversize'],
  ['too slow to answer within the fetch deadline', 'hang'],
];

describe.each(FAILURES)('a key the service has not seen, while the IdP is %s', (_, behaviour) => {
  it('answers 502 discovery_failed within the unknown-kid cooldown, explains it at signature, and accepts the key once the IdP answers', async () => {
    const logger = warningLogger();
    const t = createTestApp({
      logger,
      discoveryCacheTtlSeconds: 0.2,
      unknownKidCooldownSeconds: COOLDOWN_SECONDS,
      remoteFailureBackoffSeconds: 0.2,
      fetchTimeoutMs: 300,
    });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);

    // Both cached documents expire; the next exchange is answered from them while both refreshes
    // run in the background, and fail.
    await sleep(300);
    idp.behaviour = behaviour;
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);
    await vi.waitFor(() => expect(logger.warnings).toEqual([REFRESH_FAILED, REFRESH_FAILED]), {
      timeout: 5000,
    });

    const token = await rotatedKidToken();
    t.store.resetWrites();
    const refused = await exchange(t.app, apiKey, { token });
    expectFailsWith(refused, 502, 'discovery_failed', DISCOVERY_FAILED);
    expect(t.store.writes).toEqual([]);
    const signature = await expectExplainedAtSignature(t, apiKey, token, refused);
    expect(signature?.fix).toMatch(/may well be genuine/);
    // Keys the service holds keep working meanwhile.
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);

    // The IdP is back with the new key: the next fetch brings it in, still within the cooldown.
    idp.behaviour = 'ok';
    idp.extraPublicKeys = [rotated.publicJwk];
    // Fetches still held by a slow IdP fail at their deadline; then the failure backoff passes.
    await vi.waitFor(() => expect(idp.held).toBe(0), { timeout: 5000 });
    await sleep(300);
    expect((await exchange(t.app, apiKey, { token })).status).toBe(200);
  });
});

describe('a key the service has not seen, once the IdP answers again', () => {
  it('is invalid_signature 401 when the key set was fetched successfully within the cooldown and nothing failed since', async () => {
    const logger = warningLogger();
    // Documents stay fresh for a second, so nothing below but the step under test asks the IdP.
    const t = createTestApp({
      logger,
      discoveryCacheTtlSeconds: 1,
      unknownKidCooldownSeconds: COOLDOWN_SECONDS,
      remoteFailureBackoffSeconds: 0.2,
    });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);
    await sleep(1100);
    idp.behaviour = 'down';
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);
    await vi.waitFor(() => expect(logger.warnings).toHaveLength(2), { timeout: 5000 });

    // The IdP answers again and both documents are refetched, successfully, without the kid.
    idp.behaviour = 'ok';
    await sleep(300);
    const fetched = { ...idp.counts };
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);
    await vi.waitFor(() =>
      expect(idp.counts).toEqual({ ...fetched, discovery: fetched.discovery + 1, jwks: fetched.jwks + 1 }),
    );
    await sleep(300);

    const token = await rotatedKidToken();
    const refused = await exchange(t.app, apiKey, { token });
    expectFailsWith(refused, 401, 'invalid_signature');
    await expectExplainedAtSignature(t, apiKey, token, refused);
    // Answered without asking the IdP again: the unknown-kid cooldown holds.
    expect(idp.counts.jwks).toBe(fetched.jwks + 1);
  });
});

describe('a key the service has not seen, while only the discovery document fails', () => {
  it('answers 502 discovery_failed when the discovery fetch failed after the key set was fetched', async () => {
    const logger = warningLogger();
    // The key set is refetched (for an unknown kid) after the discovery document was fetched, so
    // the discovery document expires and fails while the key set is still fresh. The times leave
    // a loaded machine 2.6 s for the first exchange before the unknown kid arrives.
    const t = createTestApp({
      logger,
      discoveryCacheTtlSeconds: 8,
      unknownKidCooldownSeconds: 5,
      // One failed refresh, remembered for the rest of the test.
      remoteFailureBackoffSeconds: 60,
    });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);
    await sleep(5400);
    const forged = await idp.sign(idTokenClaims(idp.issuer), { kid: 'never-published' });
    expectFailsWith(await exchange(t.app, apiKey, { token: forged }), 401, 'invalid_signature');
    expect(idp.counts).toEqual({ discovery: 1, jwks: 2, other: 0 });

    await sleep(3000);
    idp.behaviour = 'down';
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);
    await vi.waitFor(() => expect(logger.warnings).toEqual([REFRESH_FAILED]), { timeout: 5000 });
    // Only the discovery document was due: the key set was not asked for again.
    expect(idp.counts).toEqual({ discovery: 2, jwks: 2, other: 0 });

    const token = await rotatedKidToken();
    const refused = await exchange(t.app, apiKey, { token });
    expectFailsWith(refused, 502, 'discovery_failed', DISCOVERY_FAILED);
    await expectExplainedAtSignature(t, apiKey, token, refused);
    expect(idp.counts).toEqual({ discovery: 2, jwks: 2, other: 0 });
  });
});

describe('a key the service has not seen, while a refresh of the key set waits on a slow IdP', () => {
  it('waits for that refresh and answers with its outcome, not 401 from the older key set', async () => {
    const t = createTestApp({
      discoveryCacheTtlSeconds: 0.2,
      unknownKidCooldownSeconds: COOLDOWN_SECONDS,
      fetchTimeoutMs: 1000,
    });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);
    await sleep(300);
    idp.behaviour = 'hang';
    expect((await exchange(t.app, apiKey, { token: await knownKidToken() })).status).toBe(200);
    // Both refreshes reached the IdP and are unanswered.
    await vi.waitFor(() => expect(idp.held).toBe(2), { timeout: 5000 });

    expectFailsWith(
      await exchange(t.app, apiKey, { token: await rotatedKidToken() }),
      502,
      'discovery_failed',
      DISCOVERY_FAILED,
    );
    expect(idp.counts).toEqual({ discovery: 2, jwks: 2, other: 0 });
  });
});

describe('a key set that cannot be fetched at all', () => {
  it('is discovery_failed at the discovery step, which fetches the discovery document and the key set it names', async () => {
    // The IdP (behind a host-supplied fetch, as behind a proxy) serves its discovery document, but
    // its key set answers 500.
    const issuer = 'https://93.184.215.14';
    const proxyFetch = async (input: string) =>
      input === `${issuer}/.well-known/openid-configuration`
        ? Response.json({ issuer, jwks_uri: `${issuer}/jwks` })
        : new Response('internal error', { status: 500 });
    const t = createTestApp({ fetch: proxyFetch });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer });
    const token = await idp.sign(idTokenClaims(issuer));
    const refused = await exchange(t.app, apiKey, { token });
    expectFailsWith(refused, 502, 'discovery_failed', DISCOVERY_FAILED);

    const explanation = (await explain(t.app, apiKey, token)).body as ExchangeExplanation;
    const discovery = explanation.steps.find(({ step }) => step === 'discovery');
    expect(discovery).toEqual({
      step: 'discovery',
      result: 'fail',
      seen: { registered_issuer: issuer, document_issuer: issuer, jwks_uri: `${issuer}/jwks` },
      error: { ...refused.body, status: 502 },
      fix: exchangeErrorFix('discovery', 'discovery_failed'),
    });
    expect(explanation.steps.find(({ step }) => step === 'signature')?.result).toBe('skipped');
  });
});
