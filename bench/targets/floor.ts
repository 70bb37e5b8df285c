/** The floor: the unavoidable work of floor-work.ts on a bare `node:http` server. */
import { createServer } from 'node:http';
import { EXCHANGE_PATH } from '../lib/protocol.js';
import { exchange, fail, org } from './floor-work.js';
import { serveUntilStopped } from './lifecycle.js';

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== EXCHANGE_PATH) {
    fail(res, 404, 'not_found');
    return;
  }
  exchange(req, res).catch(() => {
    if (!res.headersSent) fail(res, 500, 'server_error');
  });
});

await serveUntilStopped(server, { orgs: [org], description: 'node:http + jose, unavoidable work only' });
