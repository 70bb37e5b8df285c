import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sqlStore } from '@rialto-exchange/storage-adapters';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  createTestApp,
  exchange,
  expectFailsWith,
  idTokenClaims,
  recordingStore,
  registerOrganization,
  startLocalIssuer,
  type TestApp,
} from './helpers.js';

/*
 * Issue 19: another process holds the SQLite write lock for longer than the store deadline while
 * two instances serve refreshes. Every refresh must answer by its deadline (503 while locked), and
 * a 503 must cost no session: no rotation may land after its call was answered, so that the
 * client's retry, once the lock is gone, finds its token still live instead of "already used".
 */

const COMMAND_TIMEOUT_MS = 400;
// Held well past the deadline, and past the retry grace window below, so a rotation that landed
// when the lock went away would read as reuse on the retry.
const LOCK_HELD_MS = 2_500;
// One second: a retry a whole second after the 503'd call would not be within it.
const RETRY_GRACE_SECONDS = 1;
const CLIENTS = 24;
const storageAdapters = fileURLToPath(new URL('../../storage-adapters', import.meta.url));

/** Another process holding the database's write lock (BEGIN EXCLUSIVE) until it is killed. */
async function holdExclusiveLock(filename: string): Promise<ChildProcess> {
  const script = `
    const db = new (require('better-sqlite3'))(process.argv[1]);
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script, filename], {
    cwd: storageAdapters,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onTestFinished(() => void child.kill());
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    if (chunk.toString().includes('locked')) return child;
  }
  throw new Error('the locking process exited before taking the lock');
}

async function release(locker: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => locker.once('exit', resolve));
  locker.kill();
  await exited;
}

describe('two instances on an SQLite file another process holds locked', () => {
  it('answer every refresh by the deadline, and each 503 refresh succeeds on retry once the lock is gone', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'rialto-lock-sessions-'));
    const filename = join(directory, 'rialto.db');
    const stores = [0, 1].map(() =>
      sqlStore({ dialect: 'sqlite', filename, commandTimeoutMs: COMMAND_TIMEOUT_MS }),
    );
    const idp = await startLocalIssuer();
    onTestFinished(async () => {
      await idp.close();
      for (const store of stores) await store.close();
      rmSync(directory, { recursive: true, force: true });
    });
    const instances: TestApp[] = stores.map((store) =>
      createTestApp({
        store: recordingStore(store),
        rateLimit: false,
        refreshTokenRetryGraceSeconds: RETRY_GRACE_SECONDS,
      }),
    );
    const reuses: unknown[] = [];
    for (const instance of instances) {
      instance.router.exchange.audit.on('refresh.reuse_detected', (payload) => void reuses.push(payload));
    }
    const [first, second] = instances as [TestApp, TestApp];
    const { apiKey } = await registerOrganization(first.app, { name: 'Acme', issuer: idp.issuer });
    const instanceOf = (client: number) => (client % 2 === 0 ? first : second);
    const refresh = (client: number, refreshToken: string) =>
      request(instanceOf(client).app).post('/identity/auth/refresh').send({ refresh_token: refreshToken });

    // Each client signs in and refreshes once, so both instances have their caches warm.
    const tokens: string[] = [];
    for (let client = 0; client < CLIENTS; client++) {
      const sub = `client-${client}`;
      const signedIn = await exchange(instanceOf(client).app, apiKey, {
        token: await idp.sign(idTokenClaims(idp.issuer, { sub, email: `${sub}@example.com` })),
      });
      expect(signedIn.status).toBe(200);
      const warm = await refresh(client, signedIn.body.refresh_token);
      expect(warm.status).toBe(200);
      tokens.push(warm.body.refresh_token);
    }

    const locker = await holdExclusiveLock(filename);
    const lockedAt = Date.now();
    const answers = await Promise.all(
      tokens.map(async (token, client) => {
        const response = await refresh(client, token);
        return { response, answeredAfterMs: Date.now() - lockedAt };
      }),
    );
    const answeredWithinMs = Math.max(...answers.map((answer) => answer.answeredAfterMs));
    // The answers came while the lock was still held: none waited for it to go away.
    expect(answeredWithinMs).toBeLessThan(LOCK_HELD_MS);
    await new Promise((resolve) => setTimeout(resolve, LOCK_HELD_MS - (Date.now() - lockedAt)));
    await release(locker);

    let unavailable = 0;
    for (const [client, { response }] of answers.entries()) {
      const presented = tokens[client] as string;
      if (response.status === 200) continue;
      unavailable++;
      expectFailsWith(response, 503, 'temporarily_unavailable');
      expect(response.headers['retry-after']).toBe('1');
      // The retry, with the very token the 503 answered, keeps the session going.
      const retried = await refresh(client, presented);
      expect({ client, status: retried.status, body: retried.body.error ?? 'ok' }).toEqual({
        client,
        status: 200,
        body: 'ok',
      });
      expect(decodeJwt(retried.body.refresh_token).fid).toBe(decodeJwt(presented).fid);
      const next = await refresh(client, retried.body.refresh_token);
      expect(next.status).toBe(200);
    }
    expect(unavailable).toBeGreaterThan(0);
    expect(reuses).toEqual([]);
    console.info(
      `SQLite lock: ${unavailable} of ${CLIENTS} refreshes answered 503, the last after ${answeredWithinMs} ms; every one succeeded on retry`,
    );
  });
});
