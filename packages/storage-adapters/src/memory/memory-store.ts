import type { Store } from '@rialto-exchange/core';
import { memoryConsoleSessions } from './console-sessions.js';
import { memorySigningKeys } from './keys.js';
import { memoryOrganizations } from './organizations.js';
import { createMemoryState } from './state.js';
import { memoryTokens } from './tokens.js';
import { memoryUsers } from './users.js';
import { memoryWebhooks } from './webhooks.js';

/**
 * A Store kept in this process's memory: for tests and single-process development.
 *
 * Every method runs to completion without yielding, so each is atomic by construction. Nothing
 * survives a restart and nothing is shared between processes; use `sqlStore()` or `redisStore()`
 * when either matters. Expired refresh tokens are dropped lazily.
 *
 * @example
 * app.use(rialtoExchange({ store: memoryStore() }));
 */
export function memoryStore(): Store {
  const state = createMemoryState();
  return {
    ...memoryOrganizations(state),
    ...memoryUsers(state),
    ...memoryTokens(state),
    ...memorySigningKeys(state),
    ...memoryWebhooks(state),
    ...memoryConsoleSessions(state),
    // Nothing to migrate, and nothing to release: the store keeps answering after close().
    migrate: async () => {},
    close: async () => {},
  };
}
