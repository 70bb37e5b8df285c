import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@rialto-exchange/core';
import { sqlStore } from '@rialto-exchange/storage-adapters';
import express from 'express';
import request from 'supertest';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { DEVELOPMENT_DATABASE } from '../src/development-store.js';
import { rialtoExchange } from '../src/index.js';
import { ADMIN_TOKEN, expectFailsWith, SERVICE_ISSUER } from './helpers.js';

/** Runs the test in a fresh working directory, where the development store puts its file. */
function inFreshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'rialto-dev-store-'));
  const previous = process.cwd();
  process.chdir(directory);
  onTestFinished(() => {
    process.chdir(previous);
    rmSync(directory, { recursive: true, force: true });
  });
  return directory;
}

function mount(store?: Store) {
  const router = rialtoExchange({
    issuer: SERVICE_ISSUER,
    adminToken: ADMIN_TOKEN,
    allowInsecureIssuers: true,
    rateLimit: false,
    ...(store === undefined ? {} : { store }),
  });
  return { router, app: express().use(router) };
}

const register = (app: express.Express, issuer: string) =>
  request(app)
    .post('/identity/organizations')
    .set('authorization', `Bearer ${ADMIN_TOKEN}`)
    .send({ name: 'Acme', issuer });

describe('router.close()', () => {
  it('closes the zero-config development store it opened: its file is released and store calls answer 503', async () => {
    const directory = inFreshDirectory();
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    onTestFinished(() => void vi.restoreAllMocks());
    const { router, app } = mount();
    expect((await register(app, 'https://idp.example.com')).status).toBe(201);
    const file = join(directory, DEVELOPMENT_DATABASE);
    expect([existsSync(file), existsSync(`${file}-wal`)]).toEqual([true, true]);

    await router.close();

    // The last connection to a WAL database checkpoints and removes the log as it closes.
    expect([existsSync(file), existsSync(`${file}-wal`)]).toEqual([true, false]);

    const afterClose = await register(app, 'https://other-idp.example.com');
    expectFailsWith(afterClose, 503, 'temporarily_unavailable');
    // Closing again is harmless.
    await router.close();
  });

  it('leaves a store the host passed open: it keeps answering, and the host closes it', async () => {
    const directory = inFreshDirectory();
    const store = sqlStore({ dialect: 'sqlite', filename: join(directory, 'host.db') });
    onTestFinished(() => store.close());
    const { router, app } = mount(store);
    const created = await register(app, 'https://idp.example.com');
    expect(created.status).toBe(201);

    await router.close();

    expect(await store.getOrganization(created.body.org_id)).toMatchObject({ name: 'Acme' });
    expect((await register(app, 'https://other-idp.example.com')).status).toBe(201);
  });
});
