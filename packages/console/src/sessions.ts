import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ConsoleSessionRecord, ConsoleSessionStorage } from './session-storage.js';

export const SESSION_COOKIE = 'rialto_console_session';

export interface SessionCookieOptions {
  /** The console's path (from its public URL): the cookie goes nowhere else. */
  path: string;
  /** Only when the configured public URL is https: never guessed from request headers. */
  secure: boolean;
  ttlSeconds: number;
  /** Signs the cookie, so a forged or truncated value is refused before any store read. */
  secret: string;
}

export interface ActiveSession {
  record: ConsoleSessionRecord;
  /**
   * The synchronizer token every form of this session carries: an HMAC of the session id, so it is
   * bound to the session without being stored, and useless without the cookie's secret.
   */
  csrfToken: string;
}

export interface ConsoleSessions {
  /** @returns the `Set-Cookie` value of the new session, and the session */
  open(credential: string, now: number): Promise<{ setCookie: string; session: ActiveSession }>;
  /** The session the request's cookie names, if it is signed, stored and unexpired. */
  read(cookieHeader: string | undefined, now: number): Promise<ActiveSession | null>;
  close(session: ActiveSession): Promise<void>;
  /** A `Set-Cookie` value that removes the cookie from the browser. */
  clearCookie(): string;
}

// Hex SHA-256, as the store contract names the session's key.
const hashId = (id: string) => createHash('sha256').update(id).digest('hex');

export function secretsMatch(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

export function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

export function createConsoleSessions(
  storage: ConsoleSessionStorage,
  options: SessionCookieOptions,
): ConsoleSessions {
  const sign = (id: string) => createHmac('sha256', options.secret).update(id).digest('base64url');
  const csrfTokenOf = (id: string) =>
    createHmac('sha256', options.secret).update(`csrf:${id}`).digest('base64url');
  const attributes = (maxAge: number) =>
    [`Path=${options.path}`, 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAge}`, options.secure && 'Secure']
      .filter(Boolean)
      .join('; ');

  return {
    async open(credential, now) {
      const id = randomBytes(32).toString('base64url');
      const record: ConsoleSessionRecord = {
        sessionHash: hashId(id),
        credentialFingerprint: credential,
        createdAt: now,
        expiresAt: now + options.ttlSeconds,
      };
      await storage.saveConsoleSession(record);
      return {
        setCookie: `${SESSION_COOKIE}=${id}.${sign(id)}; ${attributes(options.ttlSeconds)}`,
        session: { record, csrfToken: csrfTokenOf(id) },
      };
    },
    async read(cookieHeader, now) {
      const value = cookieValue(cookieHeader, SESSION_COOKIE);
      const [id, signature, ...rest] = (value ?? '').split('.');
      if (!id || !signature || rest.length > 0 || !secretsMatch(signature, sign(id))) return null;
      const record = await storage.getConsoleSession(hashId(id), now);
      return record && { record, csrfToken: csrfTokenOf(id) };
    },
    async close(session) {
      await storage.deleteConsoleSession(session.record.sessionHash);
    },
    clearCookie: () => `${SESSION_COOKIE}=; ${attributes(0)}`,
  };
}
