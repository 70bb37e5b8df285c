/**
 * Gathers the calls made within one turn of the event loop and hands them to `handle` together,
 * so that N concurrent callers cost one round trip (and, for writes, one commit and one fsync)
 * instead of N. `handle` returns one result per item, in order, or nothing for writes. Every
 * caller settles with its batch: a write batch must apply whole or not at all, so that a failed
 * batch fails each call in it and leaves none of them behind.
 * @param maxItems the largest batch; further calls start the next one
 */
export function createBatcher<T, R = void>(
  handle: (items: T[]) => Promise<R[] | undefined>,
  maxItems: number,
): (item: T) => Promise<R> {
  let filling: { items: T[]; results: Promise<R[] | undefined> } | undefined;

  return (item) => {
    if (filling === undefined || filling.items.length >= maxItems) {
      const items: T[] = [];
      const results = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        if (filling?.items === items) filling = undefined;
        return handle(items);
      });
      filling = { items, results };
    }
    const index = filling.items.push(item) - 1;
    return filling.results.then((results) => results?.[index] as R);
  };
}
