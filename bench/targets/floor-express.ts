/**
 * Context row: the floor's work (floor-work.ts) as an Express 5 route. Its distance from the
 * floor is what Express itself costs per exchange, which any Express-mounted implementation pays.
 */
import { createServer } from 'node:http';
import express from 'express';
import { EXCHANGE_PATH } from '../lib/protocol.js';
import { exchange, org } from './floor-work.js';
import { serveUntilStopped } from './lifecycle.js';

const app = express();
app.post(EXCHANGE_PATH, (req, res, next) => {
  exchange(req, res).catch(next);
});

await serveUntilStopped(createServer(app), {
  orgs: [org],
  description: 'Express 5 route doing the floor work',
});
