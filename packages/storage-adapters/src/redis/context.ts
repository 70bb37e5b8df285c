import { StoreUnavailableError, type storeKit } from '@rialto-exchange/core';
import calculateSlot from 'cluster-key-slot';
import type { RedisSender } from './connection.js';
import type { RedisKeys } from './key-layout.js';
import { isNoScriptReply } from './redis-errors.js';
import type { LuaScript } from './scripts.js';

/** A batched call: the keys and arguments one item adds to the script call of its slot. */
export interface BatchItem {
  keys: string[];
  args: string[];
}

/**
 * What every capability of a Redis store works with. Each command takes the deadline of the
 * operation it belongs to (what `run` gives the operation) and is never sent after it: an operation
 * answered 503 stops at its next command instead of writing on.
 */
export interface RedisContext {
  key: RedisKeys;
  /** Runs one operation of the store under its deadline, mapping outages to `StoreUnavailableError`. */
  run: storeKit.StoreRunner['run'];
  /** One command; `args[1]` is its key (every command the store sends names its key first). */
  send(deadlineAt: number, args: string[]): Promise<unknown>;
  /** One script call; every key in `keys` shares the slot of the first. */
  script(deadlineAt: number, script: LuaScript, keys: string[], args: string[]): Promise<unknown>;
  /**
   * Runs `script` once per hash slot over the items (once in all on a standalone Redis), so a batch
   * never mixes slots; answers each item's reply (`perItem` replies per call are in item order).
   */
  scriptPerSlot(deadlineAt: number, script: LuaScript, items: readonly BatchItem[]): Promise<unknown[]>;
  /** Deletes single-key global index entries; each may live on its own node. */
  deleteIndexEntries(deadlineAt: number, keys: readonly string[]): Promise<void>;
}

export interface RedisContextOptions {
  key: RedisKeys;
  run: storeKit.StoreRunner['run'];
  isCluster: boolean;
  /** The connection's sender, once the store is ready; operations only run after that. */
  sender: () => RedisSender;
  /**
   * Whether the client queues commands while offline: each then gets node-redis's `timeout` (what
   * is left of its deadline), which drops it unwritten, so it never runs after its call failed.
   * node-redis arms an AbortSignal.timeout per command for it, which costs more than the command's
   * own work on the client: only paid where a command can wait unwritten.
   */
  queuesUnwrittenCommands: boolean;
}

export function createRedisContext({
  key,
  run,
  isCluster,
  sender,
  queuesUnwrittenCommands,
}: RedisContextOptions): RedisContext {
  function command(deadlineAt: number, firstKey: string | undefined, args: string[]): Promise<unknown> {
    const leftMs = deadlineAt - performance.now();
    if (leftMs <= 0) return Promise.reject(pastDeadline());
    return sender()(firstKey, args, queuesUnwrittenCommands ? { timeout: Math.ceil(leftMs) } : undefined);
  }

  function send(deadlineAt: number, args: string[]): Promise<unknown> {
    return command(deadlineAt, args[1], args);
  }

  async function script(
    deadlineAt: number,
    lua: LuaScript,
    keys: string[],
    args: string[],
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await command(deadlineAt, keys[0], ['EVALSHA', lua.sha1, ...tail]);
    } catch (error) {
      // First use of the script on this server (or after SCRIPT FLUSH / a restart): EVAL caches it.
      if (!isNoScriptReply(error)) throw error;
      return await command(deadlineAt, keys[0], ['EVAL', lua.source, ...tail]);
    }
  }

  async function scriptPerSlot(
    deadlineAt: number,
    lua: LuaScript,
    items: readonly BatchItem[],
  ): Promise<unknown[]> {
    const groups = new Map<number, number[]>();
    items.forEach((item, index) => {
      const slot = isCluster ? calculateSlot(item.keys[0] as string) : 0;
      const group = groups.get(slot);
      if (group) group.push(index);
      else groups.set(slot, [index]);
    });
    const replies: unknown[] = new Array(items.length);
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const reply = await script(
          deadlineAt,
          lua,
          indexes.flatMap((index) => (items[index] as BatchItem).keys),
          indexes.flatMap((index) => (items[index] as BatchItem).args),
        );
        indexes.forEach((itemIndex, position) => {
          replies[itemIndex] = (reply as unknown[])[position];
        });
      }),
    );
    return replies;
  }

  async function deleteIndexEntries(deadlineAt: number, keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((entry) => send(deadlineAt, ['UNLINK', entry])));
  }

  return { key, run, send, script, scriptPerSlot, deleteIndexEntries };
}

function pastDeadline(): StoreUnavailableError {
  return new StoreUnavailableError("Redis did not answer before the call's deadline.");
}
