#!/usr/bin/env node
/**
 * Operator commands against a store, for what should not need a running server. Each command calls
 * the same core function, with the same validation, as the HTTP admin route of the same purpose,
 * so the CLI cannot accept what the routes refuse.
 *
 *   rialto-exchange register-organization --name Acme --issuer https://acme.auth0.com/
 *   rialto-exchange rotate-signing-key [--use access_token|refresh_token] [--alg ES256]
 *   rialto-exchange suspend-organization --org <org_id>
 *   rialto-exchange explain <id_token> --api-key <key> --url https://api.example.com
 *   rialto-exchange --help
 *
 * `explain` alone asks a running service (its token debugger route) instead of a store: only the
 * service has the options, discovery cache and key sets that decide an exchange.
 *
 * The store comes from `--store <url>` or `RIALTO_STORE` (see `storeFromUrl`), under `--key-prefix`
 * (Redis) or `--table-prefix` (SQL) when the app opened it with one. Secrets are printed once, to
 * standard output only.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type AccessTokenAlgorithm,
  createRialtoExchange,
  type ExchangeExplanation,
  exchangeErrorFix,
  type PageRequest,
  RialtoError,
  type RialtoErrorCode,
  type RialtoExchange,
  storeKit,
  type WebhookDeliveryRecord,
} from '@rialto-exchange/core';
import { type ClosableStore, storeFromUrl } from '@rialto-exchange/storage-adapters';
import { exportPKCS8, generateKeyPair } from 'jose';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
  /** Standard input, read whole (`explain -` takes the token from there). */
  readStdin?(): Promise<string>;
}

/** Exit codes: success, a command that failed (refused input, store error), a usage error. */
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const ACCESS_TOKEN_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
// A fleet whose store holds no access-token key yet signs with the library's default.
const DEFAULT_ALGORITHM: AccessTokenAlgorithm = 'RS256';

const STORE_OPTIONS = ['store', 'key-prefix', 'table-prefix'];

// Where the quickstart and the examples listen.
const DEFAULT_SERVICE_URL = 'http://localhost:3000';
// Longer than the service's own IdP fetch timeout (5 s by default): a slow IdP is part of the answer.
const EXPLAIN_TIMEOUT_MS = 15_000;

interface Command {
  usage: string;
  summary: string;
  /** Options the command takes besides `--json` and `--help`. */
  options: string[];
  /** What the command works on: a store, a running service over HTTP, or nothing. */
  target: 'store' | 'service' | 'none';
}

const COMMANDS: Record<string, Command> = {
  'register-organization': {
    usage:
      'register-organization --name <name> --issuer <https url> [--audience a,b] [--client-id <id>]... [--email-linking verified|unless_unverified|never] [--link-scope issuer|org] [--provisioning create|link_only] [--condition <cel>] [--claim-mapping <claim>=<cel>]... [--allow-insecure-issuers] [--allow-private-issuer]',
    summary: 'registers an organization and prints its first API key (shown once)',
    options: [
      ...STORE_OPTIONS,
      'name',
      'issuer',
      'audience',
      'client-id',
      'email-linking',
      'link-scope',
      'provisioning',
      'condition',
      'claim-mapping',
      'allow-insecure-issuers',
      'allow-private-issuer',
    ],
    target: 'store',
  },
  'update-issuer-policy': {
    usage:
      'update-issuer-policy --org <org_id> --issuer-id <issuer_id> [--condition <cel> | --clear-condition] [--claim-mapping <claim>=<cel>]... [--clear-claim-mappings] [--link-scope issuer|org]',
    summary:
      "changes an issuer registration's exchange policy (a new version, audited); --claim-mapping replaces all mappings, an option left out leaves its field as it is; --link-scope org lets its identities link by email to users first seen through the organization's other issuers",
    options: [
      ...STORE_OPTIONS,
      'org',
      'issuer-id',
      'condition',
      'clear-condition',
      'claim-mapping',
      'clear-claim-mappings',
      'link-scope',
    ],
    target: 'store',
  },
  'remove-issuer': {
    usage: 'remove-issuer --org <org_id> --issuer-id <issuer_id> [--end-sessions]',
    summary:
      'removes an issuer registration: its ID tokens are refused; the sessions begun with it continue, unless --end-sessions refuses their refresh tokens too (running instances see either within their lookup-cache TTL)',
    options: [...STORE_OPTIONS, 'org', 'issuer-id', 'end-sessions'],
    target: 'store',
  },
  'rotate-signing-key': {
    usage: 'rotate-signing-key [--use access_token|refresh_token] [--alg RS256|PS256|ES256|EdDSA]',
    summary:
      'adds a new signing key; it keeps the algorithm the fleet signs with unless --alg says otherwise',
    options: [...STORE_OPTIONS, 'use', 'alg'],
    target: 'store',
  },
  'issue-api-key': {
    usage: 'issue-api-key --org <org_id>',
    summary: 'issues another API key for an organization (rotation)',
    options: [...STORE_OPTIONS, 'org'],
    target: 'store',
  },
  'revoke-api-key': {
    usage: 'revoke-api-key --org <org_id> --key <api_key_id>',
    summary: 'revokes one API key; its users keep their sessions (suspend the organization to end them)',
    options: [...STORE_OPTIONS, 'org', 'key'],
    target: 'store',
  },
  'suspend-organization': {
    usage: 'suspend-organization --org <org_id>',
    summary: 'refuses the organization’s keys, refresh tokens and access tokens until resumed',
    options: [...STORE_OPTIONS, 'org'],
    target: 'store',
  },
  'resume-organization': {
    usage: 'resume-organization --org <org_id>',
    summary: 'ends a suspension; every session resumes',
    options: [...STORE_OPTIONS, 'org'],
    target: 'store',
  },
  'delete-organization': {
    usage: 'delete-organization --org <org_id>',
    summary: 'removes the organization and everything stored for it',
    options: [...STORE_OPTIONS, 'org'],
    target: 'store',
  },
  'delete-user': {
    usage: 'delete-user --org <org_id> --user <user_id>',
    summary: 'erases a user: its identities and personal data; its sessions end',
    options: [...STORE_OPTIONS, 'org', 'user'],
    target: 'store',
  },
  'list-user-identities': {
    usage: 'list-user-identities --org <org_id> --user <user_id>',
    summary: 'lists the identities (issuer, subject claim, value) linked to a user',
    options: [...STORE_OPTIONS, 'org', 'user'],
    target: 'store',
  },
  'list-user-sessions': {
    usage: 'list-user-sessions --org <org_id> --user <user_id>',
    summary: 'lists a user’s sessions (refresh-token families still live), most recently refreshed first',
    options: [...STORE_OPTIONS, 'org', 'user'],
    target: 'store',
  },
  'end-user-session': {
    usage: 'end-user-session --org <org_id> --user <user_id> (--session <session_id> | --all)',
    summary: 'ends one session of a user, or all of them: their refresh tokens stop working at once',
    options: [...STORE_OPTIONS, 'org', 'user', 'session', 'all'],
    target: 'store',
  },
  'list-organizations': {
    usage: 'list-organizations [--query <text>] [--limit <1-200>] [--cursor <next_cursor>]',
    summary:
      'lists organizations newest first, a page at a time; --query keeps the one with that id and those whose name contains it',
    options: [...STORE_OPTIONS, 'query', 'limit', 'cursor'],
    target: 'store',
  },
  'list-users': {
    usage:
      'list-users --org <org_id> [--query <email prefix | user_id>] [--limit <1-200>] [--cursor <next_cursor>]',
    summary:
      'lists an organization’s users newest first, a page at a time, or finds them by email prefix or id',
    options: [...STORE_OPTIONS, 'org', 'query', 'limit', 'cursor'],
    target: 'store',
  },
  'list-signing-keys': {
    usage: 'list-signing-keys',
    summary:
      'lists the signing keys (next, active, retired, expired) with their dates; never private material',
    options: STORE_OPTIONS,
    target: 'store',
  },
  'list-webhook-deliveries': {
    usage: 'list-webhook-deliveries --org <org_id> --webhook <webhook_id>',
    summary: 'lists a webhook subscription’s most recent deliveries (50 at most), newest first',
    options: [...STORE_OPTIONS, 'org', 'webhook'],
    target: 'store',
  },
  'redeliver-webhook': {
    usage: 'redeliver-webhook --org <org_id> --webhook <webhook_id> --delivery <delivery_id>',
    summary: 'makes one delivery due now (attempts kept); the delivery worker of a running service sends it',
    options: [...STORE_OPTIONS, 'org', 'webhook', 'delivery'],
    target: 'store',
  },
  migrate: {
    usage: 'migrate',
    summary: 'brings an SQL store to the latest schema version',
    options: STORE_OPTIONS,
    target: 'store',
  },
  explain: {
    usage:
      'explain <id_token | -> [--api-key <key>] [--url <service base url>] [--condition <cel>] [--claim-mapping <claim>=<cel>]... [--grant-type token-exchange|jwt-bearer] [--audience <name,name>] [--resource <uri>]... [--scope <scope>]',
    summary:
      'asks a running service why it would accept or refuse an ID token, step by step; writes nothing (- reads the token from stdin; the key defaults to RIALTO_API_KEY, the URL to RIALTO_URL or http://localhost:3000; --condition and --claim-mapping try a draft policy instead of the stored one)',
    options: ['api-key', 'url', 'condition', 'claim-mapping', 'grant-type', 'audience', 'resource', 'scope'],
    target: 'service',
  },
  'generate-key': {
    usage: 'generate-key [--alg RS256|PS256|ES256|EdDSA]',
    summary: 'prints a new PKCS#8 private key for the accessTokenKey option',
    options: ['alg'],
    target: 'none',
  },
};

const USAGE = `Usage: rialto-exchange <command> [options] [--json]

Commands:
${Object.values(COMMANDS)
  .map((command) => `  ${command.usage}\n      ${command.summary}`)
  .join('\n')}

Store options (every command but explain and generate-key):
  --store <url>          memory:, sqlite:<file>, redis://…, postgres://…, mysql://… (or RIALTO_STORE)
  --key-prefix <prefix>  the Redis key prefix the app uses
  --table-prefix <p>     the SQL table prefix the app uses

  --json                 print the result as JSON
  --help                 this text, or a command's: rialto-exchange <command> --help`;

function commandUsage(name: string, command: Command): string {
  const storeOptions =
    command.target === 'store' ? ' [--store <url>] [--key-prefix <p>] [--table-prefix <p>]' : '';
  return `Usage: rialto-exchange ${command.usage}${storeOptions} [--json]\n\n${name}: ${command.summary}`;
}

class UsageError extends Error {}

function parse(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      store: { type: 'string' },
      'key-prefix': { type: 'string' },
      'table-prefix': { type: 'string' },
      name: { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
      'client-id': { type: 'string', multiple: true },
      'email-linking': { type: 'string' },
      'link-scope': { type: 'string' },
      provisioning: { type: 'string' },
      condition: { type: 'string' },
      'clear-condition': { type: 'boolean' },
      'claim-mapping': { type: 'string', multiple: true },
      'clear-claim-mappings': { type: 'boolean' },
      'issuer-id': { type: 'string' },
      'end-sessions': { type: 'boolean' },
      'allow-insecure-issuers': { type: 'boolean' },
      'allow-private-issuer': { type: 'boolean' },
      use: { type: 'string' },
      org: { type: 'string' },
      key: { type: 'string' },
      user: { type: 'string' },
      session: { type: 'string' },
      all: { type: 'boolean' },
      alg: { type: 'string' },
      query: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      webhook: { type: 'string' },
      delivery: { type: 'string' },
      'api-key': { type: 'string' },
      url: { type: 'string' },
      'grant-type': { type: 'string' },
      resource: { type: 'string', multiple: true },
      scope: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const [name, ...operands] = positionals;
  const maxOperands = name === 'explain' ? 1 : 0;
  if (operands.length > maxOperands) throw new UsageError(`Unexpected argument: ${operands[maxOperands]}`);
  return { name, operand: operands[0], values };
}

type Values = ReturnType<typeof parse>['values'];

/** Runs one command. @returns the process exit code */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const { name, operand, values } = parsed;
  if (name === undefined) {
    if (values.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    io.err(USAGE);
    return EXIT_USAGE;
  }
  const command = COMMANDS[name];
  if (!command || !Object.hasOwn(COMMANDS, name)) {
    io.err(`Unknown command: ${name}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.out(commandUsage(name, command));
    return EXIT_OK;
  }
  const unexpected = Object.keys(values).filter(
    (option) => option !== 'json' && !command.options.includes(option),
  );
  if (unexpected.length > 0) {
    io.err(`${name} does not take --${unexpected[0]}\n\n${commandUsage(name, command)}`);
    return EXIT_USAGE;
  }
  if (command.target === 'none') return generateKey(values, io);
  if (command.target === 'service') return explain(operand, values, io);

  const url = values.store ?? io.env.RIALTO_STORE;
  if (!url) {
    io.err(`No store: pass --store <url> or set RIALTO_STORE.\n\n${commandUsage(name, command)}`);
    return EXIT_USAGE;
  }
  let store: ClosableStore;
  try {
    store = storeFromUrl(url, {
      ...(values['key-prefix'] === undefined ? {} : { keyPrefix: values['key-prefix'] }),
      ...(values['table-prefix'] === undefined ? {} : { tablePrefix: values['table-prefix'] }),
    });
  } catch (error) {
    io.err((error as Error).message);
    return EXIT_USAGE;
  }
  try {
    const result = await run(name, values, store, io.env);
    io.out(values.json ? JSON.stringify(result.json, null, 2) : result.text);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${commandUsage(name, command)}`);
      return EXIT_USAGE;
    }
    const message =
      error instanceof RialtoError ? `${error.code}: ${error.description}` : (error as Error).message;
    io.err(values.json ? JSON.stringify({ error: message }) : `${name} failed: ${message}`);
    return EXIT_FAILED;
  } finally {
    await store.close();
  }
}

async function generateKey(values: Values, io: CliIo): Promise<number> {
  const alg = values.alg ?? DEFAULT_ALGORITHM;
  if (!isAlgorithm(alg)) {
    io.err(`--alg must be one of ${ACCESS_TOKEN_ALGORITHMS.join(', ')}`);
    return EXIT_USAGE;
  }
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const pem = (await exportPKCS8(privateKey)).trim();
  io.out(values.json ? JSON.stringify({ alg, private_key: pem }, null, 2) : pem);
  return EXIT_OK;
}

/**
 * `--link-scope` as the body field; its value is checked by the same schema as the admin route's.
 */
function linkScopeField(values: Values): { link_scope?: 'issuer' } {
  return values['link-scope'] === undefined ? {} : { link_scope: values['link-scope'] as 'issuer' };
}

/**
 * The policy fields the options give: `--condition` (or `--clear-condition`: null), and the
 * mappings of every `--claim-mapping <claim>=<cel>` (split at the first `=`), or
 * `--clear-claim-mappings`; an option left out leaves its field out.
 */
function policyFields(values: Values): {
  condition?: string | null;
  claim_mappings?: Record<string, string> | null;
} {
  if (values.condition !== undefined && values['clear-condition']) {
    throw new UsageError('Give --condition or --clear-condition, not both');
  }
  if (values['claim-mapping'] !== undefined && values['clear-claim-mappings']) {
    throw new UsageError('Give --claim-mapping or --clear-claim-mappings, not both');
  }
  const fields: { condition?: string | null; claim_mappings?: Record<string, string> | null } = {};
  if (values.condition !== undefined) fields.condition = values.condition;
  if (values['clear-condition']) fields.condition = null;
  if (values['clear-claim-mappings']) fields.claim_mappings = null;
  if (values['claim-mapping'] !== undefined) {
    const mappings: Record<string, string> = {};
    for (const mapping of values['claim-mapping']) {
      const separator = mapping.indexOf('=');
      if (separator <= 0) throw new UsageError('--claim-mapping takes <claim>=<cel expression>');
      mappings[mapping.slice(0, separator)] = mapping.slice(separator + 1);
    }
    fields.claim_mappings = mappings;
  }
  return fields;
}

/** The debugger's draft `policy`, when the options give one. */
function draftPolicy(values: Values): { policy?: ReturnType<typeof policyFields> } {
  const policy = policyFields(values);
  return Object.keys(policy).length === 0 ? {} : { policy };
}

async function explain(operand: string | undefined, values: Values, io: CliIo): Promise<number> {
  const usage = commandUsage('explain', COMMANDS.explain as Command);
  const apiKey = values['api-key'] ?? io.env.RIALTO_API_KEY;
  if (operand === undefined || apiKey === undefined) {
    io.err(
      `${operand === undefined ? 'Missing the ID token' : 'Missing --api-key (or RIALTO_API_KEY)'}\n\n${usage}`,
    );
    return EXIT_USAGE;
  }
  const token = operand === '-' ? ((await io.readStdin?.()) ?? '').trim() : operand;
  const base = values.url ?? io.env.RIALTO_URL ?? DEFAULT_SERVICE_URL;
  if (!URL.canParse(base)) {
    io.err(`--url must be an absolute URL, e.g. ${DEFAULT_SERVICE_URL}\n\n${usage}`);
    return EXIT_USAGE;
  }
  let draft: ReturnType<typeof draftPolicy>;
  try {
    draft = draftPolicy(values);
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${usage}`);
    return EXIT_USAGE;
  }
  const request = explainRequest(token, values, draft);
  if (typeof request === 'string') {
    io.err(`${request}\n\n${usage}`);
    return EXIT_USAGE;
  }
  // The service may be mounted under a path: keep it, and append the route.
  const url = `${base.replace(/\/+$/, '')}/identity/auth/exchange/explain`;
  let status: number;
  let body: unknown;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': request.contentType, 'x-api-key': apiKey },
      body: request.body,
      signal: AbortSignal.timeout(EXPLAIN_TIMEOUT_MS),
      redirect: 'error',
    });
    status = response.status;
    body = await response.json().catch(() => undefined);
  } catch (error) {
    const reason =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    return fail(io, values, `could not reach ${url}: ${reason}`);
  }
  if (status === 200 && isExplanation(body)) {
    io.out(values.json ? JSON.stringify(body, null, 2) : explanationText(body));
    return body.would_succeed ? EXIT_OK : EXIT_FAILED;
  }
  if (isErrorBody(body)) {
    // The API-key errors (and rate limits) come before any step: the service answers them as the exchange does.
    const fix = exchangeErrorFix('api_key', body.error);
    if (values.json) {
      io.err(JSON.stringify({ status, ...body, fix }, null, 2));
    } else {
      io.err(
        `The service refused to explain (${status} ${body.error}): ${body.error_description}\n  fix: ${fix}`,
      );
    }
    return EXIT_FAILED;
  }
  return fail(
    io,
    values,
    `${url} answered ${status} without a token explanation: is --url the service's base URL?`,
  );
}

function fail(io: CliIo, values: Values, message: string): number {
  io.err(values.json ? JSON.stringify({ error: message }) : `explain failed: ${message}`);
  return EXIT_FAILED;
}

const GRANT_TYPES: Record<string, string> = {
  'token-exchange': 'urn:ietf:params:oauth:grant-type:token-exchange',
  'jwt-bearer': 'urn:ietf:params:oauth:grant-type:jwt-bearer',
};

/**
 * The debugger's body: the exchange's JSON, or with `--grant-type` the form a `POST /oauth/token`
 * request would send (its `audience`, `resource` and `scope` included), so the same steps, its
 * `grant` among them, are explained for it.
 * @returns the body, or what is wrong with the options
 */
function explainRequest(
  token: string,
  values: Values,
  draft: ReturnType<typeof draftPolicy>,
): { contentType: string; body: string } | string {
  const grantType = values['grant-type'];
  // Comma-separated, as register-organization takes it.
  const audience = (values.audience ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const resources = values.resource ?? [];
  const { scope } = values;
  if (grantType === undefined) {
    if (audience.length > 0 || resources.length > 0 || scope !== undefined) {
      return '--audience, --resource and --scope need --grant-type (the seed exchange narrows nothing)';
    }
    return { contentType: 'application/json', body: JSON.stringify({ token, ...draft }) };
  }
  if (draft.policy !== undefined) {
    return '--condition and --claim-mapping go with the exchange body: leave out --grant-type to try a draft policy';
  }
  const grant = GRANT_TYPES[grantType as string];
  if (grant === undefined) return '--grant-type must be token-exchange or jwt-bearer';
  const form = new URLSearchParams({ grant_type: grant });
  if (grantType === 'token-exchange') {
    form.set('subject_token', token);
    form.set('subject_token_type', 'urn:ietf:params:oauth:token-type:id_token');
  } else {
    form.set('assertion', token);
  }
  for (const name of audience) form.append('audience', name);
  for (const uri of resources) form.append('resource', uri);
  if (scope !== undefined) form.set('scope', scope);
  return { contentType: 'application/x-www-form-urlencoded', body: form.toString() };
}

function isExplanation(body: unknown): body is ExchangeExplanation {
  return typeof body === 'object' && body !== null && Array.isArray((body as ExchangeExplanation).steps);
}

function isErrorBody(body: unknown): body is { error: RialtoErrorCode; error_description: string } {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
}

const RESULT_LABELS = { pass: 'pass', fail: 'FAIL', skipped: 'skip' } as const;

/** One line per step, the failing one followed by its error and fix. */
function explanationText(explanation: ExchangeExplanation): string {
  const width = Math.max(...explanation.steps.map(({ step }) => step.length));
  const lines = explanation.steps.map(({ step, result, seen, error, fix, note }) => {
    const detail =
      note ??
      Object.entries(seen)
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(' ');
    const line = `${RESULT_LABELS[result]}  ${step.padEnd(width)}  ${detail}`.trimEnd();
    return error
      ? `${line}\n      ${error.error} (${error.status}): ${error.error_description}\n      fix: ${fix}`
      : line;
  });
  const verdict = explanation.error
    ? `The exchange would answer ${explanation.error.status} ${explanation.error.error}.`
    : 'The exchange would succeed.';
  return [...lines, '', verdict].join('\n');
}

function isAlgorithm(alg: string): alg is AccessTokenAlgorithm {
  return (ACCESS_TOKEN_ALGORITHMS as readonly string[]).includes(alg);
}

function required(
  values: Values,
  ...names: ('org' | 'key' | 'user' | 'name' | 'issuer' | 'webhook' | 'delivery')[]
): string[] {
  const missing = names.filter((option) => values[option] === undefined);
  if (missing.length > 0)
    throw new UsageError(`Missing ${missing.map((option) => `--${option}`).join(', ')}`);
  return names.map((option) => values[option] as string);
}

interface Result {
  text: string;
  json: unknown;
}

async function run(
  name: string,
  values: Values,
  store: ClosableStore,
  env: NodeJS.ProcessEnv,
): Promise<Result> {
  if (name === 'migrate') {
    if ('migrate' in store && typeof store.migrate === 'function') await store.migrate();
    return { text: 'Store is at the latest schema version.', json: { migrated: true } };
  }
  const exchange = await exchangeFor(name, values, store, env);
  try {
    return await runWithExchange(name, values, exchange);
  } finally {
    await exchange.close();
  }
}

async function exchangeFor(
  name: string,
  values: Values,
  store: ClosableStore,
  env: NodeJS.ProcessEnv,
): Promise<RialtoExchange> {
  let accessTokenAlgorithm: AccessTokenAlgorithm = DEFAULT_ALGORITHM;
  if (values.alg !== undefined) {
    if (!isAlgorithm(values.alg)) {
      throw new UsageError(`--alg must be one of ${ACCESS_TOKEN_ALGORITHMS.join(', ')}`);
    }
    accessTokenAlgorithm = values.alg;
  } else if (name === 'rotate-signing-key') {
    // The newest stored key is the algorithm the fleet has rotated to: keep it.
    const [newest] = await store.listSigningKeys('access_token');
    if (newest && isAlgorithm(newest.alg)) accessTokenAlgorithm = newest.alg;
  }
  return createRialtoExchange({
    store,
    // The issuer only goes into minted tokens, and these commands mint none.
    issuer: env.RIALTO_ISSUER ?? 'http://localhost',
    accessTokenAlgorithm,
    // The admin route's rule: https issuers only, unless the host opted in to http for development.
    allowInsecureIssuers: values['allow-insecure-issuers'] === true,
    // The placeholder issuer above is on loopback, which would allow private IdPs by default; an
    // operator command against a real store must ask for that explicitly, as the server's option does.
    allowPrivateIssuers: values['allow-private-issuer'] === true,
    // An operator command says nothing about the host's audience policy; the admin may set any.
    allowedAudiences: [],
    webhooks: { worker: false },
  });
}

async function runWithExchange(name: string, values: Values, exchange: RialtoExchange): Promise<Result> {
  switch (name) {
    case 'register-organization': {
      const [orgName, issuer] = required(values, 'name', 'issuer');
      const registered = await exchange.organizations.register({
        name: orgName as string,
        issuer: issuer as string,
        ...(values.audience === undefined
          ? {}
          : { audience: values.audience.split(',').map((scope) => scope.trim()) }),
        ...(values['client-id'] === undefined ? {} : { client_ids: values['client-id'] }),
        ...(values['email-linking'] === undefined
          ? {}
          : { email_linking: values['email-linking'] as 'verified' }),
        ...(values.provisioning === undefined ? {} : { provisioning: values.provisioning as 'create' }),
        ...policyFields(values),
        ...linkScopeField(values),
      });
      const json = {
        org_id: registered.organization.orgId,
        api_key: registered.apiKey,
        api_key_id: registered.apiKeyId,
        ...(registered.warnings.length > 0 ? { warnings: registered.warnings } : {}),
      };
      return { text: JSON.stringify(json, null, 2), json };
    }
    case 'rotate-signing-key': {
      const use = values.use ?? 'access_token';
      if (use !== 'access_token' && use !== 'refresh_token') {
        throw new UsageError('--use must be access_token or refresh_token');
      }
      const rotated = await exchange.keys.rotate(use);
      const activatesAt = new Date(rotated.activatesAt * 1000).toISOString();
      const alg = use === 'access_token' ? exchange.options.accessTokenAlgorithm : 'HS256';
      return {
        text: `New ${use} key ${rotated.kid} (${alg}) is published now and signs from ${activatesAt} on every instance.`,
        json: { use, kid: rotated.kid, alg, activates_at: activatesAt },
      };
    }
    case 'issue-api-key': {
      const [orgId] = required(values, 'org');
      const { apiKey, record } = await exchange.apiKeys.issue(orgId as string);
      const json = { org_id: orgId, api_key: apiKey, api_key_id: record.keyId };
      return { text: JSON.stringify(json, null, 2), json };
    }
    case 'revoke-api-key': {
      const [orgId, keyId] = required(values, 'org', 'key');
      await exchange.apiKeys.revoke(orgId as string, keyId as string);
      return { text: `Revoked ${keyId}.`, json: { org_id: orgId, api_key_id: keyId, revoked: true } };
    }
    case 'suspend-organization':
    case 'resume-organization': {
      const [orgId] = required(values, 'org');
      const isSuspended = name === 'suspend-organization';
      const org = isSuspended
        ? await exchange.organizations.suspend(orgId as string)
        : await exchange.organizations.resume(orgId as string);
      return {
        text: `${isSuspended ? 'Suspended' : 'Resumed'} ${org.orgId}.`,
        json: { org_id: org.orgId, suspended: isSuspended },
      };
    }
    case 'update-issuer-policy': {
      const [orgId] = required(values, 'org');
      const issuerId = values['issuer-id'];
      if (issuerId === undefined) throw new UsageError('Missing --issuer-id');
      const updated = await exchange.issuers.updatePolicy(orgId as string, issuerId, {
        ...policyFields(values),
        ...linkScopeField(values),
      });
      const policy = updated.policy ?? { condition: null, claimMappings: {}, version: 0 };
      const json = {
        org_id: updated.orgId,
        issuer_id: updated.registrationId,
        condition: policy.condition,
        claim_mappings: policy.claimMappings,
        link_scope: storeKit.linkScopeOf(updated),
        policy_version: policy.version,
      };
      return { text: JSON.stringify(json, null, 2), json };
    }
    case 'remove-issuer': {
      const [orgId] = required(values, 'org');
      const issuerId = values['issuer-id'];
      if (issuerId === undefined) throw new UsageError('Missing --issuer-id');
      const endSessions = values['end-sessions'] === true;
      await exchange.issuers.remove(orgId as string, issuerId, { endSessions });
      return {
        text: endSessions
          ? `Removed issuer registration ${issuerId} and ended the sessions begun with it.`
          : `Removed issuer registration ${issuerId}; the sessions begun with it continue.`,
        json: { org_id: orgId, issuer_id: issuerId, removed: true, sessions_ended: endSessions },
      };
    }
    case 'delete-organization': {
      const [orgId] = required(values, 'org');
      await exchange.organizations.remove(orgId as string);
      return {
        text: `Deleted ${orgId} and everything stored for it.`,
        json: { org_id: orgId, deleted: true },
      };
    }
    case 'list-organizations': {
      const page = await exchange.organizations.list(pageRequest(values));
      const organizations = page.items.map((org) => ({
        org_id: org.orgId,
        name: org.name,
        suspended: org.suspendedAt !== null,
        created_at: isoTime(org.createdAt),
      }));
      return {
        text: pageText(
          organizations.map(
            (org) => `${org.org_id}  ${org.created_at}  ${org.suspended ? '(suspended) ' : ''}${org.name}`,
          ),
          page.nextCursor,
        ),
        json: { organizations, next_cursor: page.nextCursor },
      };
    }
    case 'list-users': {
      const [orgId] = required(values, 'org');
      const page = await exchange.users.list(orgId as string, pageRequest(values));
      const users = page.items.map((user) => ({
        user_id: user.userId,
        email: user.email,
        role: user.role,
        kyc_status: user.kycStatus,
        accreditation_status: user.accreditationStatus,
        created_at: isoTime(user.createdAt),
      }));
      return {
        text: pageText(
          users.map((user) => `${user.user_id}  ${user.created_at}  ${user.email}  ${user.role}`),
          page.nextCursor,
        ),
        json: { users, next_cursor: page.nextCursor },
      };
    }
    case 'list-signing-keys': {
      const keys = (await exchange.keys.list()).map((key) => ({
        kid: key.kid,
        use: key.use,
        alg: key.alg,
        source: key.source,
        state: key.state,
        created_at: isoTime(key.createdAt),
        activates_at: key.activatesAt === null ? null : isoTime(key.activatesAt),
        retired_at: key.retiredAt === null ? null : isoTime(key.retiredAt),
        verifies_until: key.verifiesUntil === null ? null : isoTime(key.verifiesUntil),
      }));
      return {
        text: keys
          .map(
            (key) =>
              `${key.use}  ${key.state.padEnd(7)}  ${key.alg.padEnd(5)}  ${key.kid}  created ${key.created_at}`,
          )
          .join('\n'),
        json: { keys },
      };
    }
    case 'list-webhook-deliveries': {
      const [orgId, webhookId] = required(values, 'org', 'webhook');
      const deliveries = (await exchange.webhooks.listDeliveries(orgId as string, webhookId as string)).map(
        deliveryJson,
      );
      return {
        text: deliveries
          .map(
            (delivery) =>
              `${delivery.delivery_id}  ${delivery.status.padEnd(9)}  ${delivery.event_type}  attempts ${delivery.attempts}  last response ${delivery.last_response_status ?? '-'}`,
          )
          .join('\n'),
        json: { deliveries },
      };
    }
    case 'redeliver-webhook': {
      const [orgId, webhookId, deliveryId] = required(values, 'org', 'webhook', 'delivery');
      const delivery = await exchange.webhooks.redeliver(
        orgId as string,
        webhookId as string,
        deliveryId as string,
      );
      return {
        // Only a delivery a worker holds comes back with its lease: redelivery left it to that attempt.
        text:
          delivery.leaseExpiresAt === null
            ? `Delivery ${delivery.deliveryId} is due now; the delivery worker sends it on its next pass.`
            : `Delivery ${delivery.deliveryId} is being attempted right now; it was left to that attempt.`,
        json: deliveryJson(delivery),
      };
    }
    case 'list-user-identities': {
      const [orgId, userId] = required(values, 'org', 'user');
      const identities = (await exchange.users.listIdentities(orgId as string, userId as string)).map(
        (identity) => ({
          iss: identity.iss,
          subject_claim: identity.subjectClaim,
          sub: identity.sub,
          linked_at: identity.linkedAt === undefined ? null : isoTime(identity.linkedAt),
        }),
      );
      return {
        text: identities
          .map((identity) => `${identity.iss}  ${identity.subject_claim}=${identity.sub}`)
          .join('\n'),
        json: { identities },
      };
    }
    case 'list-user-sessions': {
      const [orgId, userId] = required(values, 'org', 'user');
      const sessions = (await exchange.users.listSessions(orgId as string, userId as string)).map(
        (session) => ({
          session_id: session.familyId,
          last_refreshed_at: isoTime(session.lastIssuedAt),
          expires_at: isoTime(session.expiresAt),
        }),
      );
      return {
        text: sessions
          .map(
            (session) =>
              `${session.session_id}  refreshed ${session.last_refreshed_at}  expires ${session.expires_at}`,
          )
          .join('\n'),
        json: { sessions },
      };
    }
    case 'end-user-session': {
      const [orgId, userId] = required(values, 'org', 'user');
      const sessionId = values.session as string | undefined;
      if ((sessionId === undefined) === (values.all !== true))
        throw new UsageError('Give either --session <session_id> or --all');
      if (sessionId === undefined) {
        const ended = await exchange.users.endAllSessions(orgId as string, userId as string);
        return { text: `Ended ${ended} session(s) of user ${userId}.`, json: { ended } };
      }
      await exchange.users.endSession(orgId as string, userId as string, sessionId);
      return { text: `Ended session ${sessionId}.`, json: { session_id: sessionId, ended: true } };
    }
    default: {
      const [orgId, userId] = required(values, 'org', 'user');
      await exchange.users.remove(orgId as string, userId as string);
      return { text: `Deleted user ${userId}.`, json: { user_id: userId, deleted: true } };
    }
  }
}

function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

/** The paging options as the facade takes them; it validates them as the admin routes do. */
function pageRequest(values: Values): PageRequest {
  return {
    ...(values.query === undefined ? {} : { query: values.query }),
    ...(values.cursor === undefined ? {} : { cursor: values.cursor }),
    ...(values.limit === undefined ? {} : { limit: Number(values.limit) }),
  };
}

function pageText(lines: string[], nextCursor: string | null): string {
  const listed = lines.length === 0 ? ['(none)'] : lines;
  return nextCursor === null ? listed.join('\n') : [...listed, `More: --cursor ${nextCursor}`].join('\n');
}

function deliveryJson(delivery: WebhookDeliveryRecord) {
  return {
    delivery_id: delivery.deliveryId,
    event_type: delivery.eventType,
    status: delivery.status,
    next_attempt_at: delivery.nextAttemptAt === null ? null : isoTime(delivery.nextAttemptAt),
    attempts: delivery.attempts.length,
    last_response_status: delivery.attempts.at(-1)?.responseStatus ?? null,
    created_at: isoTime(delivery.createdAt),
  };
}

function isEntryPoint(): boolean {
  try {
    return (
      process.argv[1] !== undefined &&
      realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const io: CliIo = {
    env: process.env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
  process.exitCode = await runCli(process.argv.slice(2), io);
}
