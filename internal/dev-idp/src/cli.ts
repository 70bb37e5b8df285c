#!/usr/bin/env node
/**
 * A local OpenID provider to try rialto-exchange against, and ID tokens from it:
 *
 *   rialto-dev-idp [--port 4000] [--host 127.0.0.1] [--client-id partner-app]
 *   rialto-dev-idp token --email ada@example.com [--sub <sub>] [--unverified] [--issuer http://127.0.0.1:4000]
 *
 * The first serves discovery and JWKS until Ctrl-C; the second asks a running one for an ID token
 * and prints it alone on standard output, so it fits `TOKEN=$(rialto-dev-idp token --email …)`.
 */
import { parseArgs } from 'node:util';
import { type DevIdp, startDevIdp } from './index.js';
import { MINT_PATH } from './mint-path.js';

export const DEFAULT_DEV_IDP_PORT = 4000; // beside the quickstart's 3000
const DEFAULT_ISSUER = `http://127.0.0.1:${DEFAULT_DEV_IDP_PORT}`;

export interface DevIdpCliIo {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage:
  rialto-dev-idp [--port ${DEFAULT_DEV_IDP_PORT}] [--host 127.0.0.1] [--client-id partner-app]
      serves an OpenID provider (discovery, JWKS, authorization-code flow) until Ctrl-C
  rialto-dev-idp token --email <email> [--sub <sub>] [--unverified] [--issuer ${DEFAULT_ISSUER}]
      prints an ID token from the running provider (DEV_IDP_ISSUER also sets --issuer)`;

/**
 * Runs one command.
 * @returns the exit code, and for `serve` the running IdP (the caller closes it on a signal)
 */
export async function runDevIdpCli(argv: string[], io: DevIdpCliIo): Promise<{ code: number; idp?: DevIdp }> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return { code: 2 };
  }
  const { command, values } = parsed;
  if (values.help) {
    io.out(USAGE);
    return { code: 0 };
  }
  if (command === 'token') return { code: await printToken(values, io) };
  if (command !== undefined && command !== 'serve') {
    io.err(`Unknown command: ${command}\n\n${USAGE}`);
    return { code: 2 };
  }
  const port = values.port === undefined ? DEFAULT_DEV_IDP_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    io.err(`--port must be a port number, got "${values.port}"`);
    return { code: 2 };
  }
  const host = values.host ?? '127.0.0.1';
  let idp: DevIdp;
  try {
    idp = await startDevIdp({
      port,
      host,
      ...(values['client-id'] ? { clientId: values['client-id'] } : {}),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      io.err(
        `Port ${port} on ${host} is busy: stop what uses it or pass --port <another port> (0 picks a free one).`,
      );
      return { code: 1 };
    }
    throw error;
  }
  io.out(`dev IdP listening: issuer ${idp.issuer}, client_id ${idp.clientId} (the aud of its ID tokens)`);
  io.out(`Mint an ID token:  rialto-dev-idp token --email ada@example.com --issuer ${idp.issuer}`);
  io.out(
    `               or: curl -s -X POST ${idp.issuer}${MINT_PATH} -H 'content-type: application/json' -d '{"email":"ada@example.com"}'`,
  );
  io.out('Press Ctrl-C to stop.');
  return { code: 0, idp };
}

async function printToken(values: ReturnType<typeof parse>['values'], io: DevIdpCliIo): Promise<number> {
  if (!values.email) {
    io.err(`token needs --email <email>\n\n${USAGE}`);
    return 2;
  }
  const issuer = (values.issuer ?? io.env.DEV_IDP_ISSUER ?? DEFAULT_ISSUER).replace(/\/$/, '');
  let response: Response;
  try {
    response = await fetch(`${issuer}${MINT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: values.email,
        ...(values.sub ? { sub: values.sub } : {}),
        ...(values.unverified ? { email_verified: false } : {}),
      }),
    });
  } catch {
    io.err(`No dev IdP answers at ${issuer}: start one with \`rialto-dev-idp\` or pass --issuer <url>.`);
    return 1;
  }
  const body = (await response.json().catch(() => ({}))) as { id_token?: string; error?: string };
  if (!response.ok || typeof body.id_token !== 'string') {
    io.err(`The dev IdP at ${issuer} answered ${response.status}: ${body.error ?? 'no id_token'}`);
    return 1;
  }
  io.out(body.id_token);
  return 0;
}

function parse(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'client-id': { type: 'string' },
      email: { type: 'string' },
      sub: { type: 'string' },
      unverified: { type: 'boolean' },
      issuer: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return { command: positionals[0], values };
}

/**
 * Runs the command line of this process: the `rialto-dev-idp` bin calls it. A server it starts
 * stops on SIGINT or SIGTERM.
 */
export async function runFromCommandLine(): Promise<void> {
  const io: DevIdpCliIo = {
    env: process.env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  };
  const { code, idp } = await runDevIdpCli(process.argv.slice(2), io);
  process.exitCode = code;
  if (idp) {
    const stop = () => void idp.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
}
