/**
 * Quickstart: a partner's IdP, this library mounted in Express, and one real token exchange.
 *
 *   pnpm quickstart              (or bash scripts/quickstart.sh, which installs first)
 *   PORT=4001 pnpm quickstart    (default 3000; 0 picks a free port)
 *
 * 1. starts a real OpenID Connect provider on loopback, standing in for the partner's IdP;
 * 2. mounts `rialtoExchange()` in an Express app with its development defaults;
 * 3. registers an organization for that IdP (printing its API key, shown only once);
 * 4. signs a user in at the IdP and exchanges the ID token over HTTP;
 * 5. prints the access token's claims and the user record;
 * 6. mounts the admin console at /rialto-admin and prints its URL and the admin token to sign in
 *    with, then keeps serving until Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { rialtoConsole } from '@rialto-exchange/console';
import { startDevIdp } from '@rialto-exchange/dev-idp';
import { rialtoExchange } from '@rialto-exchange/express';
import express from 'express';
import { decodeJwt } from 'jose';

const DEFAULT_PORT = 3000;
const port = parsePort(process.env.PORT);
const exitAfterDemo = process.env.QUICKSTART_EXIT_AFTER_DEMO === '1';
const adminToken = randomBytes(24).toString('base64url');
const step = (message: string) => console.log(`\n▸ ${message}`);

const app = express();
// The port is taken first, so a busy one is reported before anything else starts.
const server = app.listen(port, '127.0.0.1');
try {
  await once(server, 'listening');
} catch (error) {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
  console.error(
    `✘ Port ${port} on 127.0.0.1 is busy. Stop what uses it, or pick another port: PORT=${port + 1} bash scripts/quickstart.sh (PORT=0 picks a free one).`,
  );
  process.exit(1);
}

step('Starting a local OpenID Connect provider (the partner IdP, @rialto-exchange/dev-idp)…');
const idp = await startDevIdp();
console.log(`  issuer: ${idp.issuer}`);
// The service's issuer names its port, which is known only now when PORT=0 picks a free one.
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const rialto = rialtoExchange({
  issuer: baseUrl,
  adminToken,
  // The local IdP speaks plain http on loopback; production issuers must be https on public
  // addresses. (A service whose own issuer is on loopback allows private IdPs by default; this
  // says so explicitly.)
  allowInsecureIssuers: true,
  allowPrivateIssuers: true,
  // The audiences an organization's API key may put in its access tokens; without this list,
  // any (the production warning this example would otherwise print).
  allowedAudiences: ['primary-issuance'],
});
app.use(rialto);
// The admin console, over the same exchange: sign in with the admin token printed below.
const consoleUrl = `${baseUrl}/rialto-admin`;
app.use('/rialto-admin', rialtoConsole({ exchange: rialto.exchange, publicUrl: consoleUrl }));
step(`Rialto exchange listening on ${baseUrl}`);

step('Registering an organization for that IdP (POST /identity/organizations)…');
const registration = await postJson(
  `${baseUrl}/identity/organizations`,
  { authorization: `Bearer ${adminToken}` },
  {
    name: 'Quickstart Capital',
    issuer: idp.issuer,
    audience: ['primary-issuance'],
  },
);
console.log(`  org_id:  ${registration.org_id}`);
console.log(`  api_key: ${registration.api_key}   ← shown once; store it in a secrets manager`);

step('Signing ada@example.com in at the IdP to get an ID token…');
const idToken = await idp.getIdToken({ email: 'ada@example.com' });
console.log(`  id_token: ${idToken.slice(0, 32)}… (${idToken.length} chars)`);

step('Exchanging the ID token (POST /identity/auth/exchange)…');
const tokens = await postJson(
  `${baseUrl}/identity/auth/exchange`,
  { 'x-api-key': registration.api_key },
  { token: idToken },
);
console.log(
  JSON.stringify(
    {
      ...tokens,
      access_token: `${tokens.access_token.slice(0, 24)}…`,
      refresh_token: `${tokens.refresh_token.slice(0, 24)}…`,
    },
    null,
    2,
  ),
);

step('Access-token claims:');
const claims = decodeJwt(tokens.access_token);
console.log(JSON.stringify(claims, null, 2));

step(`Fetching the user with the access token (GET /identity/users/${claims.user_id})…`);
const userResponse = await fetch(`${baseUrl}/identity/users/${claims.user_id}`, {
  headers: { authorization: `Bearer ${tokens.access_token}` },
});
console.log(JSON.stringify(await userResponse.json(), null, 2));

console.log('\n✔ exchange succeeded');
step(`Admin console: ${consoleUrl}`);
console.log(`  admin token: ${adminToken}   ← paste it on the sign-in page`);
console.log('  There: find Quickstart Capital, open Ada in its users, debug a token, rotate keys.');
if (exitAfterDemo) {
  await shutdown();
} else {
  console.log(
    `\nStill serving ${baseUrl} (public keys at ${baseUrl}/.well-known/jwks.json). Press Ctrl-C to stop.`,
  );
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_PORT;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    console.error(`✘ PORT must be a port number from 0 to 65535, got "${value}".`);
    process.exit(1);
  }
  return parsed;
}

async function shutdown() {
  server.closeAllConnections();
  server.close();
  await idp.close();
}

// biome-ignore lint/suspicious/noExplicitAny: demo output, printed as received
async function postJson(url: string, headers: Record<string, string>, body: unknown): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { error?: string; error_description?: string };
  if (!response.ok) {
    console.error(`  ✘ ${response.status} ${json.error}: ${json.error_description}`);
    process.exit(1);
  }
  return json;
}
