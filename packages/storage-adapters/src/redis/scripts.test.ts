import { describe, expect, it } from 'vitest';
import * as scripts from './scripts.js';

describe('the Lua scripts of redisStore', () => {
  const sources = Object.entries(scripts).filter(
    (entry): entry is [string, scripts.LuaScript] => typeof entry[1] === 'object' && 'source' in entry[1],
  );

  it('are all checked here', () => {
    expect(sources.length).toBeGreaterThan(20);
  });

  // Redis's scripting contract, and what lets a cluster route a script: a key reached any other way
  // (built from a prefix in ARGV, or read from a value) may live on another node.
  it.each(sources)('%s touches only keys it was given in KEYS', (_, script) => {
    const calls = [...script.source.matchAll(/redis\.call\('\w+',\s*([^,)]+)/g)];
    expect(calls.length).toBeGreaterThan(0);
    // Every command the scripts call names its key first; `[^,)]+` stops inside `unpack(KEYS)`.
    for (const [call, firstKey] of calls) expect(firstKey, call).toMatch(/^(KEYS\[[^\]]+\]|unpack\(KEYS)$/);
  });
});
