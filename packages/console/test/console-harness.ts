import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RialtoExchange } from '@rialto-exchange/core';
import { type DevIdp, startDevIdp } from '@rialto-exchange/dev-idp';
import { rialtoExchange } from '@rialto-exchange/express';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import express from 'express';
import { rialtoConsole } from '../src/index.js';

/** What a local webhook receiver got: each delivery's event type and body. */
export interface ReceivedDelivery {
  type: string;
  body: unknown;
}

export interface ConsoleHarness {
  baseUrl: string;
  consoleUrl: string;
  adminToken: string;
  idp: DevIdp;
  secondIdp: DevIdp;
  exchange: RialtoExchange;
  receiverUrl: string;
  received: ReceivedDelivery[];
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * The real thing, in one process: two dev IdPs, the exchange mounted in Express on a real port,
 * the console beside it, and a webhook receiver that records what it is sent.
 */
export async function startConsoleHarness(): Promise<ConsoleHarness> {
  const [idp, secondIdp] = await Promise.all([startDevIdp(), startDevIdp({ clientId: 'second-app' })]);
  const received: ReceivedDelivery[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string };
      received.push({ type: body.type, body });
      res.writeHead(204).end();
    });
  });
  const receiverUrl = `${await listen(receiver)}/hooks`;
  const app = express();
  const server = createServer(app);
  const baseUrl = await listen(server);
  const adminToken = randomBytes(24).toString('base64url');
  const rialto = rialtoExchange({
    issuer: baseUrl,
    store: memoryStore(),
    adminToken,
    allowInsecureIssuers: true,
    allowPrivateIssuers: true,
    allowedAudiences: ['primary-issuance'],
    logger: false,
    webhooks: { allowInsecureUrls: true, allowLoopbackUrls: true, worker: { intervalMs: 200 } },
  });
  app.use(rialto);
  const consoleUrl = `${baseUrl}/rialto-admin`;
  app.use('/rialto-admin', rialtoConsole({ exchange: rialto.exchange, publicUrl: consoleUrl }));
  return {
    baseUrl,
    consoleUrl,
    adminToken,
    idp,
    secondIdp,
    exchange: rialto.exchange,
    receiverUrl,
    received,
    async close() {
      await rialto.close();
      for (const closing of [server, receiver]) {
        closing.closeAllConnections();
        closing.close();
      }
      await Promise.all([idp.close(), secondIdp.close()]);
    },
  };
}
