/**
 * Gathers the writes asked for within one turn of the event loop and hands them to `write`
 * together, so that N concurrent callers cost one round trip and one commit (one fsync) instead
 * of N. Every caller's promise settles with its batch: `write` must apply a batch whole or not at
 * all, so a failed batch fails each write in it and leaves none of them behind.
 * @param maxItems the largest batch; further writes start the next one
 */
export function createWriteBatcher<T>(
  write: (items: T[]) => Promise<void>,
  maxItems: number,
): (item: T) => Promise<void> {
  let filling: { items: T[]; written: Promise<void> } | undefined;

  return (item) => {
    if (filling === undefined || filling.items.length >= maxItems) {
      const items: T[] = [];
      const written = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        if (filling?.items === items) filling = undefined;
        return write(items);
      });
      filling = { items, written };
    }
    filling.items.push(item);
    return filling.written;
  };
}
