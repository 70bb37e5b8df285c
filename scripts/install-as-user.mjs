#!/usr/bin/env node
/**
 * Installs the packages the way a user does and runs the README's app against the dev IdP:
 *
 * 1. `pnpm pack` every published package (which rewrites `workspace:^` ranges);
 * 2. `npm install` the tarballs, Express and the TypeScript types into a fresh directory outside
 *    the workspace (no better-sqlite3: a driver is the user's choice and must not be compiled);
 * 3. compiles the first TypeScript block under "## Use it in your app" of README.md, extracted
 *    here, not copied, under `strict`, and checks `require()` of the packages;
 * 4. starts the installed `rialto-dev-idp` and the app (with an ES256 key from the installed
 *    `rialto-exchange generate-key` in RIALTO_ACCESS_TOKEN_KEY), registers an organization, mints an ID
 *    token with `rialto-dev-idp token`, exchanges it, sets the user's KYC state with the PATCH
 *    body the README documents, refreshes, and calls the app's guarded route.
 *
 * Fails with the step that broke. Needs `pnpm build` first.
 *
 *   node scripts/install-as-user.mjs
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = [
  'packages/core',
  'packages/storage-adapters',
  'packages/express',
  'packages/cli',
  'internal/dev-idp',
];
const STEP_TIMEOUT_MS = 180_000;

const work = mkdtempSync(join(tmpdir(), 'rialto-install-as-user-'));
const children = [];
let failed = false;

const step = (message) => console.log(`install-as-user: ${message}`);

function fail(message) {
  throw new Error(message);
}

function run(command, args, options = {}) {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: STEP_TIMEOUT_MS,
      ...options,
    });
  } catch (error) {
    fail(`${command} ${args.join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
  }
}

/** The first ```ts block of the README section with this heading. */
export function readmeSnippet(markdown, heading) {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start === -1) fail(`README.md has no "${heading}" section`);
  const section = markdown.slice(start + heading.length + 2);
  const end = section.search(/\n## /);
  const block = /```ts\n([\s\S]*?)\n```/.exec(end === -1 ? section : section.slice(0, end));
  if (!block) fail(`README.md's "${heading}" section has no TypeScript block`);
  return block[1];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a process and resolves once a line of its standard output matches `ready`. */
function start(command, args, options, ready) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${output}`)), 30_000);
    const collect = (chunk) => {
      output += chunk;
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

async function call(method, url, { headers = {}, body } = {}) {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, body: json };
}

function expectStatus(what, response, status) {
  if (response.status !== status)
    fail(`${what}: expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function main() {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const directory of PACKAGES) {
    if (!existsSync(join(root, directory, 'dist')))
      fail(`${directory}/dist is missing; run \`pnpm build\` first`);
    run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(root, directory) });
  }
  const packed = readdirSync(tarballs).map((name) => join(tarballs, name));
  step(`packed ${packed.length} packages into ${tarballs}`);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'rialto-user-app', private: true, type: 'module' }),
  );
  run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...packed,
      'express@^5',
      '@types/express@^5',
      '@types/node@^20',
    ],
    { cwd: app },
  );
  if (existsSync(join(app, 'node_modules', 'better-sqlite3'))) {
    fail('better-sqlite3 was installed although no one asked for it: drivers must stay optional peers');
  }
  step('npm installed the tarballs, express and the types; better-sqlite3 was not installed');

  run(
    process.execPath,
    ['-e', "require('@rialto-exchange/express'); require('@rialto-exchange/storage-adapters')"],
    { cwd: app },
  );
  step('require() of the packages works');

  const snippet = readmeSnippet(readFileSync(join(root, 'README.md'), 'utf8'), '## Use it in your app');
  writeFileSync(join(app, 'server.ts'), snippet);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        outDir: 'dist',
        types: ['node'],
      },
      include: ['server.ts'],
    }),
  );
  // The workspace's compiler; every type it reads comes from the fresh install.
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app });
  step('the README app compiles under strict');

  const [appPort, idpPort] = [await freePort(), await freePort()];
  const env = { ...process.env, PATH: `${join(app, 'node_modules/.bin')}:${process.env.PATH}` };
  for (const name of Object.keys(env)) if (name.startsWith('RIALTO_')) delete env[name];
  const [, issuer] = await start(
    'rialto-dev-idp',
    ['--port', String(idpPort)],
    { cwd: app, env },
    /issuer (http:\/\/\S+),/,
  );
  const adminToken = randomBytes(24).toString('base64url');
  // The key recipe of docs/operations.md (Keys and the CLI): an ES256 key from the CLI in RIALTO_ACCESS_TOKEN_KEY, no algorithm named.
  const accessTokenKey = run('rialto-exchange', ['generate-key', '--alg', 'ES256'], { cwd: app, env });
  await start(
    process.execPath,
    ['dist/server.js'],
    {
      cwd: app,
      env: {
        ...env,
        PORT: String(appPort),
        RIALTO_ADMIN_TOKEN: adminToken,
        RIALTO_ACCESS_TOKEN_KEY: accessTokenKey,
        NODE_ENV: 'development',
      },
    },
    /listening on http:\/\/localhost:\d+/,
  );
  const base = `http://localhost:${appPort}`;
  step(`the README app listens on ${base}; the dev IdP at ${issuer}`);

  const registration = expectStatus(
    'POST /identity/organizations',
    await call('POST', `${base}/identity/organizations`, {
      headers: { authorization: `Bearer ${adminToken}` },
      body: { name: 'Install Check', issuer },
    }),
    201,
  );
  const idToken = run('rialto-dev-idp', ['token', '--email', 'ada@example.com', '--issuer', issuer], {
    cwd: app,
    env,
  }).trim();
  const tokens = expectStatus(
    'POST /identity/auth/exchange',
    await call('POST', `${base}/identity/auth/exchange`, {
      headers: { 'x-api-key': registration.api_key },
      body: { token: idToken },
    }),
    200,
  );
  const [header, claims] = tokens.access_token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  if (header.alg !== 'ES256')
    fail(`the access token is signed with ${header.alg}, not the ES256 key from generate-key`);
  if (claims.email !== 'ada@example.com' || claims.iss !== base)
    fail(`unexpected access-token claims ${JSON.stringify(claims)}`);
  step(`exchanged an ID token from rialto-dev-idp for an ES256 access token of user ${claims.user_id}`);

  const refused = expectStatus(
    'GET /portfolio before KYC',
    await call('GET', `${base}/portfolio`, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
    403,
  );
  if (refused.error !== 'insufficient_claims') fail(`GET /portfolio before KYC: ${JSON.stringify(refused)}`);
  const user = expectStatus(
    'PATCH /identity/users/:user_id',
    await call('PATCH', `${base}/identity/users/${claims.user_id}`, {
      headers: { 'x-api-key': registration.api_key },
      body: { kyc_status: 'approved' },
    }),
    200,
  );
  if (user.kyc_completed !== true) fail(`PATCH did not complete KYC: ${JSON.stringify(user)}`);
  const refreshed = expectStatus(
    'POST /identity/auth/refresh',
    await call('POST', `${base}/identity/auth/refresh`, { body: { refresh_token: tokens.refresh_token } }),
    200,
  );
  const portfolio = expectStatus(
    'GET /portfolio after KYC',
    await call('GET', `${base}/portfolio`, {
      headers: { authorization: `Bearer ${refreshed.access_token}` },
    }),
    200,
  );
  if (portfolio.user !== claims.user_id) fail(`GET /portfolio answered ${JSON.stringify(portfolio)}`);
  step('PATCH kyc_status, refresh, and the guarded /portfolio route answer as the README says');
}

try {
  await main();
  console.log('install-as-user: ok');
} catch (error) {
  failed = true;
  console.error(`install-as-user: FAILED: ${error.message}`);
} finally {
  for (const child of children) child.kill();
  if (process.env.KEEP_INSTALL_DIR) console.error(`install-as-user: left ${work} (KEEP_INSTALL_DIR)`);
  else rmSync(work, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}
