import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { Store } from '@rialto-exchange/core';
import { memoryStore, sqlStore } from '@rialto-exchange/storage-adapters';

/** Where the zero-config store keeps its data, relative to the working directory. */
export const DEVELOPMENT_DATABASE = '.rialto/rialto.db';

/**
 * The store used when the host passes none: SQLite in `./.rialto/rialto.db`, so restarting a
 * development server keeps organizations, users and keys. Falls back to memory when the optional
 * peer dependency `better-sqlite3` is not installed (it compiles natively, so it is the user's choice).
 */
export function developmentStore(): { store: Store; description: string } {
  if (!isInstalled('better-sqlite3')) {
    return {
      store: memoryStore(),
      description:
        'an in-memory store, as better-sqlite3 is not installed: everything is lost on restart. `npm install better-sqlite3` to keep data in ./.rialto/rialto.db, or pass a store',
    };
  }
  const filename = resolve(DEVELOPMENT_DATABASE);
  mkdirSync(dirname(filename), { recursive: true });
  return {
    store: sqlStore({ dialect: 'sqlite', filename }),
    description: `SQLite at ./${DEVELOPMENT_DATABASE}`,
  };
}

function isInstalled(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}
