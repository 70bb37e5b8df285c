/**
 * What a team would write without this library, following the usual tutorials: Express with
 * `express.json()`, `jsonwebtoken` to verify and sign, `jwks-rsa` (default settings: its key cache
 * on, no rate limit) to fetch the IdP's keys, and Maps for API keys and users. The signing key is
 * a PEM string, as read from an environment variable, and the refresh secret a string.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import express, { type Request, type Response } from 'express';
import jwt from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  AUDIENCE,
  type BenchOrg,
  ENV_JWKS_URI,
  ENV_ORG,
  EXCHANGE_PATH,
  ORG_NAME,
  REFRESH_TOKEN_TTL_SECONDS,
  readJsonEnv,
  SCOPE,
  SERVICE_ISSUER,
} from '../lib/protocol.js';
import { serveUntilStopped } from './lifecycle.js';

interface User {
  userId: string;
  email: string;
}

const org = readJsonEnv<BenchOrg>(ENV_ORG);
const jwksClient = jwksRsa({ jwksUri: process.env[ENV_JWKS_URI] as string });
const { privateKey: PRIVATE_KEY_PEM } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const REFRESH_SECRET = randomBytes(32).toString('base64url');
const orgsByKeyHash = new Map<string, BenchOrg>([
  [createHash('sha256').update(org.apiKey).digest('hex'), org],
]);
const users = new Map<string, User>();

const app = express();
app.use(express.json());

app.post(EXCHANGE_PATH, async (req: Request, res: Response) => {
  res.set('Cache-Control', 'no-store');
  const apiKey = req.get('x-api-key');
  const keyOrg = apiKey ? orgsByKeyHash.get(createHash('sha256').update(apiKey).digest('hex')) : undefined;
  if (!keyOrg) {
    res.status(401).json({ error: 'invalid_api_key' });
    return;
  }
  const token = req.body?.token;
  const decoded = typeof token === 'string' ? jwt.decode(token, { complete: true }) : null;
  if (!decoded) {
    res.status(400).json({ error: 'invalid_token' });
    return;
  }
  let claims: jwt.JwtPayload;
  try {
    const signingKey = await jwksClient.getSigningKey(decoded.header.kid);
    claims = jwt.verify(token, signingKey.getPublicKey(), {
      algorithms: ['RS256'],
      issuer: keyOrg.issuer,
    }) as jwt.JwtPayload;
  } catch {
    res.status(401).json({ error: 'invalid_signature' });
    return;
  }
  if (typeof claims.sub !== 'string' || typeof claims.email !== 'string') {
    res.status(400).json({ error: 'invalid_token' });
    return;
  }

  const identity = `${keyOrg.orgId} ${claims.sub}`;
  let user = users.get(identity);
  if (!user) {
    user = { userId: randomUUID(), email: claims.email };
    users.set(identity, user);
  }

  const accessToken = jwt.sign(
    {
      scope: SCOPE,
      org_id: keyOrg.orgId,
      org_name: ORG_NAME,
      user_id: user.userId,
      email: user.email,
      onboarding_completed: false,
      kyc_completed: false,
      accredited: false,
      accreditation_verified: false,
    },
    PRIVATE_KEY_PEM,
    {
      algorithm: 'RS256',
      keyid: 'naive-access',
      header: { alg: 'RS256', typ: 'at+jwt' },
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      issuer: SERVICE_ISSUER,
      subject: user.userId,
      audience: AUDIENCE,
      jwtid: randomUUID(),
    },
  );
  const refreshToken = jwt.sign({ fid: randomUUID(), org_id: keyOrg.orgId }, REFRESH_SECRET, {
    algorithm: 'HS256',
    expiresIn: REFRESH_TOKEN_TTL_SECONDS,
    issuer: SERVICE_ISSUER,
    subject: user.userId,
    audience: SERVICE_ISSUER,
    jwtid: randomUUID(),
  });
  res.json({
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
    refresh_token: refreshToken,
    refresh_expires_in: REFRESH_TOKEN_TTL_SECONDS,
    scope: SCOPE,
  });
});

await serveUntilStopped(createServer(app), {
  orgs: [org],
  description: 'Express 5 + jsonwebtoken + jwks-rsa (default cache)',
});
