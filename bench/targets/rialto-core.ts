/**
 * `createRialtoExchange().handle()` from @rialto-exchange/core on bare `node:http`, without Express
 * or the Express binding, on the store `BENCH_STORE` names (memory by default). Between it and the
 * floor lies the core's own cost, with its store; between it and the Express row on the same store,
 * Express's and the binding's.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { inProcessExchange } from '../lib/in-process-exchange.js';
import { type BenchOrg, ENV_ISSUERS, ENV_STORE, ORG_NAME, readJsonEnv } from '../lib/protocol.js';
import { serveUntilStopped } from './lifecycle.js';
import { makeStore, type StoreKind } from './stores.js';

const { store, description, cleanup } = await makeStore((process.env[ENV_STORE] ?? 'memory') as StoreKind);
const exchange = inProcessExchange({ store });
const orgs: BenchOrg[] = [];
for (const issuer of readJsonEnv<string[]>(ENV_ISSUERS)) {
  const { organization, apiKey } = await exchange.registerOrganization({ name: ORG_NAME, issuer });
  orgs.push({ issuer, orgId: organization.orgId, apiKey });
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const server = createServer(async (req, res) => {
  const path = (req.url ?? '/').split('?')[0] as string;
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const request = { method: req.method ?? 'GET', path, headers, ip: req.socket.remoteAddress };
  const response = await exchange
    .handle({ ...request, body: await readText(req) })
    .catch((error: unknown) => exchange.errorResponse(error));
  if (response === null) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(response.status, { ...response.headers, 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(response.body));
});

await serveUntilStopped(
  server,
  { orgs, description: `node:http + createRialtoExchange().handle(), ${description}` },
  async () => {
    await exchange.close();
    await cleanup();
  },
);
