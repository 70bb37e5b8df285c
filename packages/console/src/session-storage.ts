/**
 * Where console sessions live. Only a hash of the session id is kept (a store dump opens no
 * session), with the fingerprint of the credential that signed in, so rotating the admin token
 * ends every session opened with the old one.
 */
export interface ConsoleSessionRecord {
  /** Fingerprint of the admin credential that signed in (`host` for the host's `authorize` hook). */
  credential: string;
  /** The synchronizer token every form of this session carries. */
  csrfToken: string;
  createdAt: number;
  /** Epoch seconds. */
  expiresAt: number;
}

export interface ConsoleSessionStorage {
  save(idHash: string, record: ConsoleSessionRecord): Promise<void>;
  /** @returns `null` when there is none or it has expired */
  get(idHash: string, now: number): Promise<ConsoleSessionRecord | null>;
  delete(idHash: string): Promise<void>;
}

/** Sessions kept in this process: a sign-out on one instance is not seen by another. */
export function processSessionStorage(): ConsoleSessionStorage {
  const sessions = new Map<string, ConsoleSessionRecord>();
  return {
    async save(idHash, record) {
      sessions.set(idHash, record);
    },
    async get(idHash, now) {
      const record = sessions.get(idHash);
      if (record === undefined) return null;
      if (record.expiresAt <= now) {
        sessions.delete(idHash);
        return null;
      }
      return record;
    },
    async delete(idHash) {
      sessions.delete(idHash);
    },
  };
}
