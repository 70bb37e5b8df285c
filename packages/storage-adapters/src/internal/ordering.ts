import type { ApiKeyRecord, SigningKeyRecord, SigningKeyUse } from '@rialto-exchange/core';

export function oldestKeysFirst(keys: readonly ApiKeyRecord[]): ApiKeyRecord[] {
  return [...keys].sort((a, b) => a.createdAt - b.createdAt);
}

export function newestSigningKeysFirst(
  keys: readonly SigningKeyRecord[],
  use?: SigningKeyUse,
): SigningKeyRecord[] {
  return keys.filter((key) => use === undefined || key.use === use).sort((a, b) => b.createdAt - a.createdAt);
}
