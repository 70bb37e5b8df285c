import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DisposableStore, disposableStore } from '../../storage-adapters/test/disposable-stores.js';
import { isServiceUp, REDIS_URL } from '../../storage-adapters/test/services.js';
import {
  createTestApp,
  idTokenClaims,
  type LocalIssuer,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
} from './helpers.js';

const CONCURRENT_EXCHANGES = 200;

describe('keyvStore through HTTP, one process', async () => {
  if (!(await isServiceUp('Redis (for Keyv)', REDIS_URL))) return;

  let idp: LocalIssuer;
  let backing: DisposableStore;
  beforeAll(async () => {
    idp = await startLocalIssuer();
    backing = disposableStore('keyv');
  });
  afterAll(async () => {
    await backing.dispose();
    await idp.close();
  });

  it('concurrent first exchanges of one person all succeed with one user', async () => {
    const t = createTestApp({ store: recordingStore(backing.store), rateLimit: false });
    const { apiKey } = await registerOrganization(t.app, { name: 'Acme', issuer: idp.issuer });
    const server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const token = await idp.sign(idTokenClaims(idp.issuer, { sub: 'ada', email: 'ada@example.com' }));
      const responses = await Promise.all(
        Array.from({ length: CONCURRENT_EXCHANGES }, async () => {
          const response = await fetch(`${url}/identity/auth/exchange`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
            body: JSON.stringify({ token }),
          });
          return { status: response.status, body: (await response.json()) as { access_token: string } };
        }),
      );
      expect(responses.filter((response) => response.status !== 200)).toEqual([]);
      const userIds = new Set(responses.map((response) => decodeJwt(response.body.access_token).user_id));
      expect(userIds.size).toBe(1);
    } finally {
      server.close();
    }
  });
});
