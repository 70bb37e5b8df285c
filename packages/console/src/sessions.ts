import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ConsoleSessionRecord, RialtoConsoleSessions } from '@rialto-exchange/core';

export const SESSION_COOKIE = 'rialto_console_session';

export interface SessionCookieOptions {
  /** The console's path (from its public URL): the cookie goes nowhere else. */
  path: string;
  /** Only when the configured public URL is https: never guessed from request headers. */
  secure: boolean;
  /** Signs the cookie, so a forged or truncated value is refused before any store read. */
  secret: string;
}

export interface ActiveSession {
  sessionId: string;
  record: ConsoleSessionRecord;
  /**
   * The synchronizer token every form of this session carries: an HMAC of the session id, so it is
   * bound to the session without being stored, and cannot be made without the cookie secret.
   */
  csrfToken: string;
}

/** The browser side of the store's console sessions (`exchange.consoleSessions`): the signed cookie. */
export interface SessionCookies {
  /** The `Set-Cookie` value carrying a session the facade started. */
  setCookie(started: { sessionId: string; expiresAt: number }, now: number): string;
  /** The session the request's cookie names, if it is signed, stored, unexpired and still valid. */
  read(cookieHeader: string | undefined): Promise<ActiveSession | null>;
  /** A `Set-Cookie` value that removes the cookie from the browser. */
  clearCookie(): string;
}

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

export function createSessionCookies(
  sessions: RialtoConsoleSessions,
  options: SessionCookieOptions,
): SessionCookies {
  const mac = (label: string, id: string) =>
    createHmac('sha256', options.secret).update(`${label}:${id}`).digest('base64url');
  const attributes = (maxAge: number) =>
    [`Path=${options.path}`, 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAge}`, options.secure && 'Secure']
      .filter(Boolean)
      .join('; ');

  return {
    setCookie({ sessionId, expiresAt }, now) {
      return `${SESSION_COOKIE}=${sessionId}.${mac('cookie', sessionId)}; ${attributes(Math.max(0, expiresAt - now))}`;
    },
    async read(cookieHeader) {
      const value = cookieValue(cookieHeader, SESSION_COOKIE);
      const [sessionId, signature, ...rest] = (value ?? '').split('.');
      if (!sessionId || !signature || rest.length > 0 || !secretsMatch(signature, mac('cookie', sessionId))) {
        return null;
      }
      const record = await sessions.get(sessionId);
      return record && { sessionId, record, csrfToken: mac('csrf', sessionId) };
    },
    clearCookie: () => `${SESSION_COOKIE}=; ${attributes(0)}`,
  };
}
