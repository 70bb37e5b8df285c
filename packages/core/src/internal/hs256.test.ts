import { createSecretKey, randomBytes } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { signHs256Jwt } from './hs256.js';

describe('signHs256Jwt', () => {
  const secret = randomBytes(32);
  const payload = {
    fid: 'family',
    iss: 'https://issuer.test',
    sub: 'user',
    iat: 1_700_000_000,
    exp: 4_000_000_000,
  };

  it('writes the same bytes jose does for the same header and claims', async () => {
    const ours = signHs256Jwt({ kid: 'k1', typ: 'JWT' }, payload, createSecretKey(secret));
    const jose = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'JWT' })
      .sign(secret);
    expect(ours).toBe(jose);
    const { payload: verified, protectedHeader } = await jwtVerify(ours, secret, { algorithms: ['HS256'] });
    expect(protectedHeader).toEqual({ alg: 'HS256', kid: 'k1', typ: 'JWT' });
    expect(verified).toEqual(payload);
  });

  it('produces a signature that another secret does not verify', async () => {
    const token = signHs256Jwt({ kid: 'k1', typ: 'JWT' }, payload, createSecretKey(secret));
    await expect(jwtVerify(token, randomBytes(32), { algorithms: ['HS256'] })).rejects.toThrow(
      'signature verification failed',
    );
  });
});
