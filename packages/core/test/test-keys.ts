import type { SigningKeyRecord, Store } from '@rialto-exchange/core';
import { calculateJwkThumbprint, exportJWK, type GenerateKeyPairResult, generateKeyPair } from 'jose';
import { expect } from 'vitest';

/**
 * RSA keys for the tests' issuers and services, generated once per worker process and handed out
 * again to later test files. A 2048-bit RSA key costs 0.1 to 0.6 s to generate on the 2-core
 * machine, and the suite used to generate about 500 of them: a third of its CPU time.
 *
 * Within one test file every call gets a key no other call of that file got, so a test can never
 * pass because two of its issuers, or an issuer and the service, happen to share key material.
 * Files running in the same worker run one after the other, so the per-file cursor is exact.
 */
const pool: Promise<GenerateKeyPairResult>[] = [];
let cursor: { file: string; next: number } | undefined;

/** An extractable RS256 key pair that no earlier call in this test file returned. */
export function testRsaKeyPair(): Promise<GenerateKeyPairResult> {
  const file = expect.getState().testPath;
  // Outside a test file's run there is nothing to tell files apart: a fresh key is always safe.
  if (file === undefined) return generateKeyPair('RS256', { extractable: true });
  if (cursor?.file !== file) cursor = { file, next: 0 };
  const index = cursor.next++;
  pool[index] ??= generateKeyPair('RS256', { extractable: true });
  return pool[index];
}

/**
 * `inner` holding an RS256 access-token key from the pool before the exchange first reads its
 * keys, as a store does after its first start. Stores of tests that check key generation itself,
 * another algorithm or host keys are left as they are by the helpers that call this.
 */
export function withTestAccessKey(inner: Store): Store {
  // Taken when the exchange first reads its keys: a test that never signs takes no key.
  let seeded: Promise<void> | undefined;
  const seed = () => {
    seeded ??= testAccessKeyRecord().then((record) => inner.addSigningKey(record));
    return seeded;
  };
  return {
    ...inner,
    async listSigningKeys(use) {
      await seed();
      return inner.listSigningKeys(use);
    },
    async ensureSigningKey(candidate) {
      await seed();
      return inner.ensureSigningKey(candidate);
    },
  };
}

async function testAccessKeyRecord(): Promise<SigningKeyRecord> {
  const { privateKey } = await testRsaKeyPair();
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    kid,
    use: 'access_token',
    alg: 'RS256',
    privateJwk: { ...jwk, kid, alg: 'RS256' },
    createdAt: Math.floor(Date.now() / 1000),
  };
}
