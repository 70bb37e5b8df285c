import { StoreUnavailableError, type storeKit } from '@rialto-exchange/core';
import { createKeyedLock, type WithLocks } from '../internal/keyed-lock.js';
import { type KeyvKeys, keyvKeys } from './key-layout.js';
import { KeyvCallError } from './keyv-errors.js';
import type { KeyvLike } from './keyv-store.js';

/**
 * What every capability of a Keyv store works with. Each Keyv call takes the deadline of the
 * operation it belongs to (what `run` gives the operation) and is never made after it: an
 * operation answered 503 stops at its next call instead of writing on.
 */
export interface KeyvContext {
  key: KeyvKeys;
  /** Runs one operation of the store under its deadline, mapping outages to `StoreUnavailableError`. */
  run: storeKit.StoreRunner['run'];
  get<T>(deadlineAt: number, key: string): Promise<T | undefined>;
  set(deadlineAt: number, key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  remove(deadlineAt: number, key: string): Promise<void>;
  /** Serializes read-modify-write sequences on the named keys, within this process. */
  withLocks: WithLocks;
}

export function createKeyvContext(keyv: KeyvLike, run: storeKit.StoreRunner['run']): KeyvContext {
  async function call<T>(deadlineAt: number, start: () => Promise<T>): Promise<T> {
    if (performance.now() >= deadlineAt) {
      throw new StoreUnavailableError("The Keyv backend did not answer before the call's deadline.");
    }
    try {
      return await start();
    } catch (error) {
      throw new KeyvCallError(error);
    }
  }
  return {
    key: keyvKeys,
    run,
    get: <T>(deadlineAt: number, key: string) =>
      call(deadlineAt, () => keyv.get(key)) as Promise<T | undefined>,
    async set(deadlineAt, key, value, ttlSeconds) {
      await call(deadlineAt, () =>
        keyv.set(key, value, ttlSeconds === undefined ? undefined : ttlSeconds * 1000),
      );
    },
    async remove(deadlineAt, key) {
      await call(deadlineAt, () => keyv.delete(key));
    },
    withLocks: createKeyedLock(),
  };
}

/** Adds `item` to the list stored at `listKey`, unless it is there already. */
export function addToList(
  { get, set, withLocks }: KeyvContext,
  deadlineAt: number,
  listKey: string,
  item: string,
): Promise<void> {
  return withLocks([listKey], async () => {
    const listed = (await get<string[]>(deadlineAt, listKey)) ?? [];
    if (!listed.includes(item)) await set(deadlineAt, listKey, [...listed, item]);
  });
}

/** Removes `item` from the list stored at `listKey`. */
export function removeFromList(
  { get, set, withLocks }: KeyvContext,
  deadlineAt: number,
  listKey: string,
  item: string,
): Promise<void> {
  return withLocks([listKey], async () => {
    const listed = (await get<string[]>(deadlineAt, listKey)) ?? [];
    if (listed.includes(item))
      await set(
        deadlineAt,
        listKey,
        listed.filter((listedItem) => listedItem !== item),
      );
  });
}
