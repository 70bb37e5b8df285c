import { createHash, createHmac, randomBytes } from 'node:crypto';
import { epochSeconds } from '../internal/clock.js';
import type { Services } from '../services.js';
import type { ConsoleSessionRecord } from '../store/store.js';

/** A session just started: `sessionId` goes into the console's cookie and nowhere else. */
export interface StartedConsoleSession {
  sessionId: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/**
 * Sessions of the admin console, kept in the store so that signing out, or replacing the admin
 * token, ends a session on every instance. The store keeps a hash of each session id, never the id.
 */
export interface RialtoConsoleSessions {
  /**
   * Signs in with the admin token: compares it with the `adminToken` option in constant time, as
   * the admin routes do, and starts a session bound to that token (replacing the token ends it).
   * @returns `null` when no `adminToken` is configured or `token` is not it
   */
  signIn(token: string, ttlSeconds: number): Promise<StartedConsoleSession | null>;
  /**
   * Starts a session for an administrator the host authenticated itself (its `authorize` hook, its
   * SSO), named by `principal` (e.g. the SSO subject); it lasts until it expires or is ended.
   */
  start(principal: string, ttlSeconds: number): Promise<StartedConsoleSession>;
  /**
   * The live session of a cookie's session id.
   * @returns `null` when unknown, expired, ended, or signed in with an admin token that is no longer
   *   the configured one
   */
  get(sessionId: string): Promise<ConsoleSessionRecord | null>;
  /** Ends the session on every instance; ending an unknown or ended one does nothing. */
  end(sessionId: string): Promise<void>;
}

// 256 bits from the CSPRNG: unguessable, so a fast hash is enough to store it.
const SESSION_ID_BYTES = 32;
const ADMIN_TOKEN_PREFIX = 'admin_token:';
const HOST_PREFIX = 'host:';

function sessionHash(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex');
}

/** Names an admin token without revealing it: a keyed hash, so the store never holds the token. */
function adminTokenFingerprint(adminToken: string): string {
  return `${ADMIN_TOKEN_PREFIX}${createHmac('sha256', adminToken).update('rialto console session').digest('base64url')}`;
}

export function createConsoleSessionsFacade({ store, options, adminAuth }: Services): RialtoConsoleSessions {
  async function startSession(credentialFingerprint: string, ttlSeconds: number) {
    if (!(Number.isSafeInteger(ttlSeconds) && ttlSeconds > 0)) {
      throw new TypeError('consoleSessions: ttlSeconds must be a positive whole number of seconds');
    }
    const sessionId = randomBytes(SESSION_ID_BYTES).toString('base64url');
    const createdAt = epochSeconds();
    const expiresAt = createdAt + ttlSeconds;
    await store.saveConsoleSession({
      sessionHash: sessionHash(sessionId),
      credentialFingerprint,
      createdAt,
      expiresAt,
    });
    return { sessionId, expiresAt };
  }

  return {
    async signIn(token, ttlSeconds) {
      const { adminToken } = options;
      if (adminToken === undefined || !adminAuth.isAdminToken(token)) return null;
      return startSession(adminTokenFingerprint(adminToken), ttlSeconds);
    },
    start: (principal, ttlSeconds) => startSession(`${HOST_PREFIX}${principal}`, ttlSeconds),
    async get(sessionId) {
      if (sessionId === '' || sessionId.length > 128) return null;
      const session = await store.getConsoleSession(sessionHash(sessionId), epochSeconds());
      if (!session) return null;
      const { adminToken } = options;
      const isStaleAdminSession =
        session.credentialFingerprint.startsWith(ADMIN_TOKEN_PREFIX) &&
        (adminToken === undefined || session.credentialFingerprint !== adminTokenFingerprint(adminToken));
      return isStaleAdminSession ? null : session;
    },
    async end(sessionId) {
      if (sessionId === '' || sessionId.length > 128) return;
      await store.deleteConsoleSession(sessionHash(sessionId));
    },
  };
}
