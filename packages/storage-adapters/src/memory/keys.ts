import type { SigningKeyStore, SigningKeyUse } from '@rialto-exchange/core';
import { storeKit } from '@rialto-exchange/core';
import { copy } from './copies.js';
import type { MemoryState } from './state.js';

export function memorySigningKeys({ signingKeys }: MemoryState): SigningKeyStore {
  const signingKeysFor = (use: SigningKeyUse) =>
    storeKit.sortedBy(
      signingKeys.filter((key) => key.use === use),
      storeKit.newestSigningKeyFirst,
    );

  return {
    async ensureSigningKey(candidate) {
      const existing = signingKeysFor(candidate.use)[0];
      if (existing) return copy(existing);
      signingKeys.push(copy(candidate));
      return copy(candidate);
    },

    async addSigningKey(record) {
      if (signingKeys.some((key) => key.use === record.use && key.kid === record.kid)) return;
      signingKeys.push(copy(record));
    },

    async listSigningKeys(use) {
      return signingKeysFor(use).map(copy);
    },
  };
}
