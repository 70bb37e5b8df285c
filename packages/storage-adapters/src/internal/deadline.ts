/**
 * Settles like `pending`, or rejects with `onTimeout()` after `ms`. `pending` keeps running (a
 * request already sent cannot be recalled); its late outcome is ignored.
 */
export async function withDeadline<T>(pending: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([pending, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
