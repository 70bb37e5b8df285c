import { LRUCache } from 'lru-cache';

export interface ResilientCacheOptions<T> {
  /** `forced` is true when the caller knows the cached value is outdated. */
  load(key: string, forced: boolean): Promise<T>;
  /** How long a loaded value is fresh. */
  ttlMs: number;
  /** How long past freshness a value is still served when reloading it fails. */
  staleIfErrorMs: number;
  /** After a failed load, how long callers get the failure (or the stale value) without a new load. */
  failureBackoffMs: number;
  max: number;
  /** Called when a fresh value is served without a load (for cache-hit metrics). */
  onFreshHit?: () => void;
}

interface Entry<T> {
  value?: T;
  loadedAtMs: number;
  pending?: Promise<T>;
  failedAtMs?: number;
  failure?: unknown;
}

/**
 * A cache for values fetched from remote parties. Concurrent misses share one load; a failed
 * reload keeps serving the last good value for a bounded time (stale-if-error), and failures are
 * remembered briefly so an unreachable party is not asked again on every request.
 */
export class ResilientCache<T> {
  readonly #entries: LRUCache<string, Entry<T>>;
  readonly #options: ResilientCacheOptions<T>;

  constructor(options: ResilientCacheOptions<T>) {
    this.#options = options;
    this.#entries = new LRUCache({ max: options.max });
  }

  /** @returns milliseconds since the value for `key` was loaded, or `undefined` when never loaded. */
  ageMs(key: string): number | undefined {
    const entry = this.#entries.get(key);
    return entry?.value === undefined ? undefined : Date.now() - entry.loadedAtMs;
  }

  /** How many values are held and how long ago the oldest was loaded, for operators (no keys named). */
  summary(): { entries: number; oldestAgeMs: number | undefined } {
    const now = Date.now();
    let entries = 0;
    let oldestAgeMs: number | undefined;
    for (const entry of this.#entries.values()) {
      if (entry.value === undefined) continue;
      entries += 1;
      oldestAgeMs = Math.max(oldestAgeMs ?? 0, now - entry.loadedAtMs);
    }
    return { entries, oldestAgeMs };
  }

  get(key: string, { forceReload = false } = {}): Promise<T> {
    const now = Date.now();
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { loadedAtMs: 0 };
      this.#entries.set(key, entry);
    }
    if (entry.value !== undefined && !forceReload && now - entry.loadedAtMs < this.#options.ttlMs) {
      this.#options.onFreshHit?.();
      return Promise.resolve(entry.value);
    }
    if (entry.pending) return entry.pending;
    if (entry.failedAtMs !== undefined && now - entry.failedAtMs < this.#options.failureBackoffMs) {
      return this.#staleOr(entry, now, entry.failure);
    }
    entry.pending = this.#options.load(key, forceReload).then(
      (value) => {
        Object.assign(entry, {
          value,
          loadedAtMs: Date.now(),
          pending: undefined,
          failedAtMs: undefined,
          failure: undefined,
        });
        return value;
      },
      (error: unknown) => {
        Object.assign(entry, { pending: undefined, failedAtMs: Date.now(), failure: error });
        return this.#staleOr(entry, Date.now(), error);
      },
    );
    return entry.pending;
  }

  #staleOr(entry: Entry<T>, now: number, error: unknown): Promise<T> {
    const usable =
      entry.value !== undefined &&
      now - entry.loadedAtMs < this.#options.ttlMs + this.#options.staleIfErrorMs;
    return usable ? Promise.resolve(entry.value as T) : Promise.reject(error);
  }
}
