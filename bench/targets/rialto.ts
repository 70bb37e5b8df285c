/**
 * The library as a host app uses it: Express 5 with `app.use(rialtoExchange({ store, ... }))`, the
 * organizations registered through `router.exchange.registerOrganization()`. `BENCH_STORE` picks
 * the store (see stores.ts).
 */
import { createServer } from 'node:http';
import type { Logger } from '@rialto-exchange/core';
import { rialtoExchange } from '@rialto-exchange/express';
import express from 'express';
import { Registry } from 'prom-client';
import {
  BENCH_POLICY,
  type BenchOrg,
  ENV_ISSUERS,
  ENV_METRICS,
  ENV_POLICY,
  ENV_REFRESH_TTL_SECONDS,
  ENV_REGISTERED_ORGS,
  ENV_STORE,
  ORG_NAME,
  readJsonEnv,
  SERVICE_ISSUER,
} from '../lib/protocol.js';
import { serveUntilStopped } from './lifecycle.js';
import { makeStore, type StoreKind } from './stores.js';

// Server errors must not hide behind a fast 500: print them for whoever reads the bench output.
const logger: Logger = {
  debug() {},
  info() {},
  warn: (object: unknown, message?: string) => console.error('[rialto warn]', message, object),
  error: (object: unknown, message?: string) => console.error('[rialto error]', message, object),
};

const kind = (process.env[ENV_STORE] ?? 'memory') as StoreKind;
const { store, description, cleanup } = await makeStore(kind);
// One client, one IP and one organization send every request here, so the per-IP and per-org limits
// are raised out of reach rather than turned off: their bookkeeping stays on the measured path.
const UNREACHABLE = { limit: 1_000_000_000, windowSeconds: 1 };
const withMetrics = process.env[ENV_METRICS] === '1';
const withPolicy = process.env[ENV_POLICY] === '1';
const router = rialtoExchange({
  issuer: SERVICE_ISSUER,
  store,
  allowInsecureIssuers: true,
  allowPrivateIssuers: true,
  logger,
  rateLimit: { perIp: UNREACHABLE, perOrganization: UNREACHABLE },
  ...(withMetrics ? { metrics: { registry: new Registry() } } : {}),
  ...(process.env[ENV_REFRESH_TTL_SECONDS]
    ? { refreshTokenTtlSeconds: Number(process.env[ENV_REFRESH_TTL_SECONDS]) }
    : {}),
});
const app = express();
app.use(router);

// A cluster worker (rialto-cluster.ts) serves what its primary registered in the shared store.
const registered = process.env[ENV_REGISTERED_ORGS];
const orgs: BenchOrg[] = registered ? (JSON.parse(registered) as BenchOrg[]) : [];
for (const issuer of registered ? [] : readJsonEnv<string[]>(ENV_ISSUERS)) {
  const { organization, apiKey } = await router.exchange.registerOrganization({
    name: ORG_NAME,
    issuer,
    ...(withPolicy
      ? { condition: BENCH_POLICY.condition, claim_mappings: { ...BENCH_POLICY.claim_mappings } }
      : {}),
  });
  orgs.push({ issuer, orgId: organization.orgId, apiKey });
}

await serveUntilStopped(
  createServer(app),
  {
    orgs,
    description: `Express 5 + rialtoExchange(${withMetrics ? '{ metrics }' : ''}), ${description}${withPolicy ? ', an exchange policy (a condition, two mappings)' : ''}`,
  },
  async () => {
    // The webhook worker first: a pass running against a closed store would only log failures.
    await router.close();
    await cleanup();
  },
);
