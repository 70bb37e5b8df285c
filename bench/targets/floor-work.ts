/**
 * The physical floor of one exchange: only the work no implementation can skip, done with the same
 * library (`jose`) the exchange uses. Served by floor.ts on bare `node:http` (the row every ratio
 * is taken against) and by floor-express.ts behind Express (a diagnostic row).
 *
 * - one SHA-256 of the API key and one Map lookup by that hash;
 * - reading and parsing the JSON body;
 * - verifying the RS256 ID token (signature, `iss`, `exp`/`nbf`/`iat`) against the IdP key that
 *   was fetched and imported once at start-up, selected by `kid`;
 * - one Map lookup for the user by (org, sub), creating the user when absent;
 * - signing one RS256 access token (with a key imported once) and one HS256 refresh token (with an
 *   HMAC key imported once), in parallel, with the same claims the exchange puts in them;
 * - answering the same JSON body with `Cache-Control: no-store`.
 *
 * It does not run OIDC discovery, cache anything with expiry, record refresh tokens, normalize
 * emails, rate-limit or route: those are the library's choices, and what they cost is what the
 * ratio to this floor shows.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type CryptoKey,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTHeaderParameters,
  jwtVerify,
  SignJWT,
} from 'jose';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  AUDIENCE,
  type BenchOrg,
  ENV_JWKS_URI,
  ENV_ORG,
  ORG_NAME,
  REFRESH_TOKEN_TTL_SECONDS,
  readJsonEnv,
  SCOPE,
  SERVICE_ISSUER,
  type TokenResponseBody,
} from '../lib/protocol.js';

interface User {
  userId: string;
  email: string;
}

export const org = readJsonEnv<BenchOrg>(ENV_ORG);
const jwksUri = process.env[ENV_JWKS_URI] as string;

// Start-up work, done once: the IdP's public keys, our signing keys.
const idpKeys = new Map<string, CryptoKey>();
const jwks = (await (await fetch(jwksUri)).json()) as { keys: JWK[] };
for (const jwk of jwks.keys) {
  if (jwk.kid !== undefined) idpKeys.set(jwk.kid, (await importJWK(jwk, 'RS256')) as CryptoKey);
}
const accessKid = 'floor-access';
const { privateKey: accessKey } = await generateKeyPair('RS256');
const refreshKid = 'floor-refresh';
const refreshKey = await crypto.subtle.importKey(
  'raw',
  randomBytes(32),
  { name: 'HMAC', hash: 'SHA-256' },
  false,
  ['sign'],
);

interface KnownOrg extends BenchOrg {
  verifyOptions: { issuer: string; algorithms: string[]; clockTolerance: number };
}
const orgsByKeyHash = new Map<string, KnownOrg>([
  [
    sha256Hex(org.apiKey),
    { ...org, verifyOptions: { issuer: org.issuer, algorithms: ['RS256'], clockTolerance: 30 } },
  ],
]);
const users = new Map<string, User>();
const ACCESS_HEADER = { alg: 'RS256', kid: accessKid, typ: 'at+jwt' };
const REFRESH_HEADER = { alg: 'HS256', kid: refreshKid, typ: 'JWT' };
const RESPONSE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
};

function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function idpKey(header: JWTHeaderParameters): CryptoKey {
  const key = header.kid === undefined ? undefined : idpKeys.get(header.kid);
  if (key === undefined) throw new Error('unknown kid');
  return key;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, RESPONSE_HEADERS).end(JSON.stringify(body));
}

export function fail(res: ServerResponse, status: number, error: string): void {
  send(res, status, { error, error_description: error });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Answers one exchange request; the caller has routed it (POST to the exchange path). */
export async function exchange(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const apiKey = req.headers['x-api-key'];
  const keyOrg = typeof apiKey === 'string' ? orgsByKeyHash.get(sha256Hex(apiKey)) : undefined;
  if (keyOrg === undefined) return fail(res, 401, 'invalid_api_key');
  let token: unknown;
  try {
    token = ((await readJson(req)) as { token?: unknown } | null)?.token;
  } catch {
    return fail(res, 400, 'invalid_token');
  }
  if (typeof token !== 'string') return fail(res, 400, 'invalid_token');
  let claims: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload: claims } = await jwtVerify(token, idpKey, keyOrg.verifyOptions));
  } catch {
    return fail(res, 401, 'invalid_signature');
  }
  const { sub, email } = claims;
  if (typeof sub !== 'string' || typeof email !== 'string') return fail(res, 400, 'invalid_token');

  const identity = `${keyOrg.orgId} ${sub}`;
  let user = users.get(identity);
  if (user === undefined) {
    user = { userId: randomUUID(), email };
    users.set(identity, user);
  }

  const now = Math.floor(Date.now() / 1000);
  const [accessToken, refreshToken] = await Promise.all([
    new SignJWT({
      iss: SERVICE_ISSUER,
      sub: user.userId,
      aud: AUDIENCE,
      iat: now,
      exp: now + ACCESS_TOKEN_TTL_SECONDS,
      jti: randomUUID(),
      scope: SCOPE,
      org_id: keyOrg.orgId,
      org_name: ORG_NAME,
      user_id: user.userId,
      email: user.email,
      onboarding_completed: false,
      kyc_completed: false,
      accredited: false,
      accreditation_verified: false,
    })
      .setProtectedHeader(ACCESS_HEADER)
      .sign(accessKey),
    new SignJWT({
      fid: randomUUID(),
      org_id: keyOrg.orgId,
      iss: SERVICE_ISSUER,
      sub: user.userId,
      aud: SERVICE_ISSUER,
      jti: randomUUID(),
      iat: now,
      exp: now + REFRESH_TOKEN_TTL_SECONDS,
    })
      .setProtectedHeader(REFRESH_HEADER)
      .sign(refreshKey),
  ]);
  const body: TokenResponseBody = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
    refresh_token: refreshToken,
    refresh_expires_in: REFRESH_TOKEN_TTL_SECONDS,
    scope: SCOPE,
  };
  send(res, 200, body);
}
