import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { LocalIdp } from './idp.js';
import { userEmail } from './idp.js';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  type BenchOrg,
  EXCHANGE_PATH,
  REFRESH_TOKEN_TTL_SECONDS,
  type TokenResponseBody,
} from './protocol.js';

export interface ExchangeReply {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One exchange over HTTP, as a partner backend sends it. */
export async function exchange(baseUrl: string, apiKey: string, idToken: string): Promise<ExchangeReply> {
  const response = await fetch(`${baseUrl}${EXCHANGE_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ token: idToken }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RESPONSE_KEYS = [
  'access_token',
  'expires_in',
  'refresh_expires_in',
  'refresh_token',
  'scope',
  'token_type',
];

/**
 * Checks that a target really exchanges, before its speed means anything: the response shape, the
 * access and refresh tokens' headers and claims, find-or-create (same identity, same user; another
 * identity, another user), and that a forged signature and a wrong API key are refused.
 * @returns the problems found; empty when the target is sound.
 */
export async function checkTarget(
  baseUrl: string,
  org: BenchOrg,
  idp: LocalIdp,
  tokens: readonly string[],
): Promise<string[]> {
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };

  const first = await checkTokenResponse(baseUrl, org, tokens[0] as string, 0, expect);
  if (first === undefined) return problems;
  const again = await checkTokenResponse(baseUrl, org, tokens[0] as string, 0, expect);
  expect(again === first, `the same identity got another user_id (${first} then ${again})`);
  const other = await checkTokenResponse(baseUrl, org, tokens[1] as string, 1, expect);
  expect(other !== undefined && other !== first, 'another identity got the same user_id');

  const forged = await exchange(baseUrl, org.apiKey, await idp.forgedIdToken(2));
  expect(forged.status === 401, `a token with a forged signature answered ${forged.status}, not 401`);
  const wrongKey = await exchange(baseUrl, `${org.apiKey.slice(0, -4)}AAAA`, tokens[2] as string);
  expect(wrongKey.status === 401, `a wrong API key answered ${wrongKey.status}, not 401`);
  return problems;
}

/** @returns the user_id of a sound response, otherwise `undefined` (problems are reported). */
async function checkTokenResponse(
  baseUrl: string,
  org: BenchOrg,
  idToken: string,
  userIndex: number,
  expect: (ok: boolean, what: string) => void,
): Promise<string | undefined> {
  const reply = await exchange(baseUrl, org.apiKey, idToken);
  if (reply.status !== 200) {
    expect(false, `exchange answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 200)}`);
    return undefined;
  }
  expect(/^application\/json/.test(reply.headers.get('content-type') ?? ''), 'content-type is not JSON');
  expect(/no-store/.test(reply.headers.get('cache-control') ?? ''), 'Cache-Control lacks no-store');
  const body = reply.body as TokenResponseBody;
  expect(
    JSON.stringify(Object.keys(body).sort()) === JSON.stringify(RESPONSE_KEYS),
    `response keys are ${Object.keys(body).sort().join(',')}`,
  );
  expect(body.token_type === 'Bearer', 'token_type is not Bearer');
  expect(body.expires_in === ACCESS_TOKEN_TTL_SECONDS, `expires_in is ${body.expires_in}`);
  expect(
    body.refresh_expires_in === REFRESH_TOKEN_TTL_SECONDS,
    `refresh_expires_in is ${body.refresh_expires_in}`,
  );
  expect(typeof body.scope === 'string' && body.scope.split(' ').includes('openid'), 'scope lacks openid');

  const accessHeader = decodeProtectedHeader(body.access_token);
  expect(accessHeader.alg === 'RS256', `access token alg is ${accessHeader.alg}`);
  expect(accessHeader.typ === 'at+jwt', `access token typ is ${accessHeader.typ}`);
  expect(typeof accessHeader.kid === 'string', 'access token has no kid');
  const access = decodeJwt(body.access_token);
  const userId = access.user_id;
  expect(typeof userId === 'string' && UUID.test(userId), `user_id is ${String(userId)}`);
  expect(access.sub === userId, 'sub is not the user_id');
  expect(access.org_id === org.orgId, `org_id is ${String(access.org_id)}, not ${org.orgId}`);
  expect(access.email === userEmail(userIndex), `email is ${String(access.email)}`);
  expect(
    typeof access.exp === 'number' &&
      typeof access.iat === 'number' &&
      access.exp - access.iat === ACCESS_TOKEN_TTL_SECONDS,
    `exp - iat is ${Number(access.exp) - Number(access.iat)}`,
  );
  expect(Array.isArray(access.aud) && access.aud.includes('identity'), 'aud lacks identity');
  expect(typeof access.jti === 'string', 'access token has no jti');

  expect(decodeProtectedHeader(body.refresh_token).alg === 'HS256', 'refresh token is not HS256');
  const refresh = decodeJwt(body.refresh_token);
  expect(refresh.sub === userId, 'refresh token sub is not the user_id');
  expect(
    Number(refresh.exp) - Number(refresh.iat) === REFRESH_TOKEN_TTL_SECONDS,
    'refresh token lifetime is wrong',
  );
  return typeof userId === 'string' ? userId : undefined;
}
