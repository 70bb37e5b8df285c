/**
 * Runs `critical` once every named lock is held, so read-modify-write sequences on one name never
 * interleave within this process. Names are taken in sorted order, so two callers needing
 * overlapping sets cannot deadlock; waiting is on promises, never on the event loop.
 */
export type WithLocks = <T>(names: readonly string[], critical: () => Promise<T>) => Promise<T>;

export function createKeyedLock(): WithLocks {
  const tails = new Map<string, Promise<void>>();

  async function acquire(name: string): Promise<() => void> {
    const previous = tails.get(name) ?? Promise.resolve();
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => held);
    tails.set(name, tail);
    await previous;
    return () => {
      release();
      // The last holder leaves no entry behind, so the map only holds names in use.
      if (tails.get(name) === tail) tails.delete(name);
    };
  }

  return async function withLocks(names, critical) {
    const releases: Array<() => void> = [];
    try {
      for (const name of [...new Set(names)].sort()) releases.push(await acquire(name));
      return await critical();
    } finally {
      for (const release of releases.reverse()) release();
    }
  };
}
