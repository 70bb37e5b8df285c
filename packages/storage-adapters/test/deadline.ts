import { setTimeout as sleep } from 'node:timers/promises';

/** Rejects if `promise` has not settled within `ms`, so a hanging call fails the test instead of the timeout. */
export async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  const controller = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: controller.signal }).then(() => {
        throw new Error(`still pending after ${ms} ms`);
      }),
    ]);
  } finally {
    controller.abort();
  }
}

/** Retries `attempt` until it resolves, for at most `ms`; rethrows its last error after that. */
export async function eventually<T>(ms: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}
