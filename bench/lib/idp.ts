import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

/** A partner's identity provider on 127.0.0.1 port 0: discovery, JWKS, and ID tokens signed with its RS256 key. */
export interface LocalIdp {
  issuer: string;
  jwksUri: string;
  kid: string;
  /** Requests served, by document; the cold-start check reads them. */
  counts: { discovery: number; jwks: number; other: number };
  /** An ID token for user `index` of this IdP, valid for an hour. */
  idToken(index: number, overrides?: JWTPayload): Promise<string>;
  /** A token of the same shape signed by another key under the same `kid`: must be refused. */
  forgedIdToken(index: number): Promise<string>;
  close(): Promise<void>;
}

export const userEmail = (index: number) => `user${index}@bench.example`;

export async function startIdp(name: string): Promise<LocalIdp> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const { privateKey: forgerKey } = await generateKeyPair('RS256');
  const kid = `${name}-${Math.random().toString(36).slice(2, 10)}`;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  const counts = { discovery: 0, jwks: 0, other: 0 };
  const sockets = new Set<Socket>();
  let discovery = '';

  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      counts.discovery++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(discovery);
    } else if (req.url === '/jwks') {
      counts.jwks++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    } else {
      counts.other++;
      res.writeHead(404).end();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwksUri = `${issuer}/jwks`;
  discovery = JSON.stringify({
    issuer,
    jwks_uri: jwksUri,
    id_token_signing_alg_values_supported: ['RS256'],
  });

  const claims = (index: number, overrides: JWTPayload = {}): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: issuer,
      sub: `subject-${index}`,
      aud: 'bench-partner-app',
      email: userEmail(index),
      email_verified: true,
      iat: now,
      exp: now + 3600,
      ...overrides,
    };
  };
  const sign = (payload: JWTPayload, key: CryptoKey) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);

  return {
    issuer,
    jwksUri,
    kid,
    counts,
    idToken: (index, overrides) => sign(claims(index, overrides), privateKey),
    forgedIdToken: (index) => sign(claims(index), forgerKey),
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
