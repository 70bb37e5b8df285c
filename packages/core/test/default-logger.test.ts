import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { request } from './client.js';
import { ADMIN_TOKEN, createTestApp, expectFailsWith, recordingStore } from './helpers.js';

/** A store whose organization writes fail as a misconfigured backend would. */
function brokenStore() {
  const store = recordingStore(memoryStore());
  store.createOrganization = async () => {
    throw new Error('unable to open database file');
  };
  return store;
}

const register = (app: Parameters<typeof request>[0]) =>
  request(app)
    .post('/identity/organizations')
    .set('authorization', `Bearer ${ADMIN_TOKEN}`)
    .send({ name: 'Acme', issuer: 'https://idp.example.com' });

describe('server errors without a logger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints the cause of a 500 to stderr once per distinct cause, without the request', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const t = createTestApp({ store: brokenStore() });

    for (let i = 0; i < 3; i++) expectFailsWith(await register(t.app), 500, 'server_error');

    const printed = stderr.mock.calls.map(([chunk]) => String(chunk));
    expect(printed.filter((line) => line.includes('unable to open database file'))).toEqual([
      'rialto-exchange error: rialto-exchange request failed (server_error): Error: unable to open database file\n',
    ]);
    expect(printed.join('')).not.toContain(ADMIN_TOKEN);
  });

  it('prints nothing with logger: false', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const t = createTestApp({ store: brokenStore(), logger: false });

    expectFailsWith(await register(t.app), 500, 'server_error');

    expect(stderr.mock.calls.map(([chunk]) => String(chunk)).join('')).not.toContain('rialto-exchange');
  });
});
