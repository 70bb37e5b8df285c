/**
 * What the token endpoint costs over the seed exchange route, in one process: the same ID tokens
 * through `exchange.handle()`, alternating between `POST /identity/auth/exchange` (JSON, X-API-Key)
 * and `POST /oauth/token` (an RFC 8693 form, client_secret_basic) in 40 rounds of 150, so that
 * whatever else the machine does weighs on both alike. Prints CPU µs per exchange (first quartile
 * and median of the rounds) for each route. No HTTP stack: the difference is the token endpoint's
 * own work (form parsing, Basic decoding, the grant's validation and narrowing).
 *
 *   node --conditions=@rialto-exchange/source --import tsx bench/oauth-overhead.ts
 */
import { startIdp } from './lib/idp.js';
import { inProcessExchange } from './lib/in-process-exchange.js';
import { tokenExchangeForm } from './lib/load.js';
import { EXCHANGE_PATH, ORG_NAME } from './lib/protocol.js';

const ROUNDS = 40;
const PER_ROUND = 150;

const idp = await startIdp('oauth-overhead');
const tokens = await Promise.all(Array.from({ length: 1000 }, (_, index) => idp.idToken(index)));
const exchange = inProcessExchange();
const { apiKey, organization } = await exchange.registerOrganization({ name: ORG_NAME, issuer: idp.issuer });
const basic = `Basic ${Buffer.from(`${encodeURIComponent(organization.orgId)}:${encodeURIComponent(apiKey)}`).toString('base64')}`;

type Route = 'seed' | 'oauth';

async function exchangeOnce(route: Route, index: number): Promise<void> {
  const token = tokens[index % tokens.length] as string;
  const response =
    route === 'seed'
      ? await exchange.handle({
          method: 'POST',
          path: EXCHANGE_PATH,
          headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
          body: JSON.stringify({ token }),
          ip: '127.0.0.1',
        })
      : await exchange.handle({
          method: 'POST',
          path: '/oauth/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
          body: tokenExchangeForm(token),
          ip: '127.0.0.1',
        });
  if (response?.status !== 200) throw new Error(`${route} answered ${response?.status}`);
  JSON.stringify(response.body);
}

const cpuPerExchange: Record<Route, number[]> = { seed: [], oauth: [] };
let next = 0;
for (let warm = 0; warm < 600; warm++) {
  await exchangeOnce('seed', next++);
  await exchangeOnce('oauth', next++);
}
for (let round = 0; round < ROUNDS; round++) {
  for (const route of (round % 2 === 0 ? ['oauth', 'seed'] : ['seed', 'oauth']) as Route[]) {
    const before = process.cpuUsage();
    for (let i = 0; i < PER_ROUND; i++) await exchangeOnce(route, next++);
    const spent = process.cpuUsage(before);
    cpuPerExchange[route].push((spent.user + spent.system) / PER_ROUND);
  }
}

const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? Number.NaN;
for (const route of ['seed', 'oauth'] as Route[]) {
  const values = cpuPerExchange[route];
  console.log(
    `${route.padEnd(5)} CPU µs per exchange: first quartile ${quantile(values, 0.25).toFixed(0)}, median ${quantile(values, 0.5).toFixed(0)}`,
  );
}
await exchange.close();
await idp.close();
