#!/usr/bin/env node
/**
 * Operator commands against a store, for what should not need a running server:
 *
 *   rialto-exchange register-organization --name Acme --issuer https://acme.auth0.com/
 *   rialto-exchange rotate-signing-key [--use access_token|refresh_token]
 *   rialto-exchange issue-api-key --org <org_id>
 *   rialto-exchange revoke-api-key --org <org_id> --key <api_key_id>
 *   rialto-exchange migrate
 *   rialto-exchange generate-key [--alg RS256]
 *
 * The store comes from `--store <url>` or `RIALTO_STORE` (see `storeFromUrl`). Secrets are printed
 * once, to standard output only.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type AccessTokenAlgorithm, createRialtoExchange } from '@rialto-exchange/core';
import { type ClosableStore, storeFromUrl } from '@rialto-exchange/storage-adapters';
import { exportPKCS8, generateKeyPair } from 'jose';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage: rialto-exchange <command> [--store <url>] [options]

Commands:
  register-organization --name <name> --issuer <url> [--audience a,b] [--client-id id]...
                        [--allow-private-issuer]   (an IdP on loopback or a private network)
  rotate-signing-key [--use access_token|refresh_token]
  issue-api-key --org <org_id>
  revoke-api-key --org <org_id> --key <api_key_id>
  migrate
  generate-key [--alg RS256|PS256|ES256|EdDSA]

The store is --store <url> or RIALTO_STORE: memory:, sqlite:<file>, redis://…, postgres://…, mysql://…`;

/** Runs one command. @returns the process exit code */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { command, values } = parsed;
  if (command === 'generate-key') {
    const alg = (values.alg ?? 'RS256') as AccessTokenAlgorithm;
    const { privateKey } = await generateKeyPair(alg, {
      extractable: true,
      ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    });
    io.out((await exportPKCS8(privateKey)).trim());
    return 0;
  }
  if (!command || !COMMANDS.has(command)) {
    io.err(command ? `Unknown command: ${command}\n\n${USAGE}` : USAGE);
    return 2;
  }
  const url = values.store ?? io.env.RIALTO_STORE;
  if (!url) {
    io.err('No store: pass --store <url> or set RIALTO_STORE.');
    return 2;
  }
  let store: ClosableStore;
  try {
    store = storeFromUrl(url);
  } catch (error) {
    io.err((error as Error).message);
    return 2;
  }
  try {
    return await run(command, values, store, io);
  } catch (error) {
    io.err(`${command} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await store.close();
  }
}

const COMMANDS = new Set([
  'register-organization',
  'rotate-signing-key',
  'issue-api-key',
  'revoke-api-key',
  'migrate',
]);

function parse(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      name: { type: 'string' },
      issuer: { type: 'string' },
      'allow-private-issuer': { type: 'boolean' },
      audience: { type: 'string' },
      'client-id': { type: 'string', multiple: true },
      use: { type: 'string' },
      org: { type: 'string' },
      key: { type: 'string' },
      alg: { type: 'string' },
    },
  });
  return { command: positionals[0], values };
}

async function run(
  command: string,
  values: ReturnType<typeof parse>['values'],
  store: ClosableStore,
  io: CliIo,
): Promise<number> {
  if (command === 'migrate') {
    if ('migrate' in store && typeof store.migrate === 'function') await store.migrate();
    io.out('Store is at the latest schema version.');
    return 0;
  }
  // The issuer only goes into minted tokens, and these commands mint none.
  const exchange = createRialtoExchange({
    store,
    issuer: io.env.RIALTO_ISSUER ?? 'http://localhost',
    allowInsecureIssuers: true,
    // The placeholder issuer above is on loopback, which would allow private IdPs by default; an
    // operator command against a real store must ask for that explicitly, as the server's option does.
    allowPrivateIssuers: values['allow-private-issuer'] ?? false,
  });
  switch (command) {
    case 'register-organization': {
      if (!values.name || !values.issuer) throw new Error('--name and --issuer are required');
      const registered = await exchange.registerOrganization({
        name: values.name,
        issuer: values.issuer,
        ...(values.audience ? { audience: values.audience.split(',').map((scope) => scope.trim()) } : {}),
        ...(values['client-id'] ? { client_ids: values['client-id'] } : {}),
      });
      io.out(
        JSON.stringify(
          {
            org_id: registered.organization.orgId,
            api_key: registered.apiKey,
            api_key_id: registered.apiKeyId,
            ...(registered.warnings.length > 0 ? { warnings: registered.warnings } : {}),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    case 'rotate-signing-key': {
      const use = values.use ?? 'access_token';
      if (use !== 'access_token' && use !== 'refresh_token')
        throw new Error('--use must be access_token or refresh_token');
      const rotated = await exchange.rotateSigningKey(use);
      io.out(
        `New ${use} key ${rotated.kid} is published now and signs from ${new Date(rotated.activatesAt * 1000).toISOString()} on every instance.`,
      );
      return 0;
    }
    case 'issue-api-key': {
      if (!values.org) throw new Error('--org is required');
      if (!(await store.getOrganization(values.org))) throw new Error('no such organization');
      const { apiKey, record } = await exchange.issueApiKey(values.org);
      io.out(JSON.stringify({ org_id: values.org, api_key: apiKey, api_key_id: record.keyId }, null, 2));
      return 0;
    }
    default: {
      if (!values.org || !values.key) throw new Error('--org and --key are required');
      if (!(await exchange.revokeApiKey(values.org, values.key)))
        throw new Error('no such active key in that organization');
      io.out(`Revoked ${values.key}.`);
      return 0;
    }
  }
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
  };
  process.exitCode = await runCli(process.argv.slice(2), io);
}
