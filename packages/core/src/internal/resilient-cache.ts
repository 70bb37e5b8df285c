import { LRUCache } from 'lru-cache';

export interface ResilientCacheOptions<T> {
  /** `forced` is true when the caller knows the cached value is outdated. */
  load(key: string, forced: boolean): Promise<T>;
  /** How long a loaded value is fresh. */
  ttlMs: number;
  /** How long past freshness a value is still served, while a refresh runs or after it failed. */
  staleIfErrorMs: number;
  /** After a failed load, how long callers get the failure (or the stale value) without a new load. */
  failureBackoffMs: number;
  max: number;
  /** Told when a background refresh fails; the stale value keeps being served. */
  onRefreshFailure?(key: string, error: unknown): void;
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
 * A cache for values fetched from remote parties. Concurrent misses share one load. Once a value
 * is cached, an expired one is served at once while a single background refresh runs
 * (stale-while-revalidate), for at most `staleIfErrorMs` past freshness: callers never wait on a
 * slow party while they hold a usable value. Failures are remembered briefly, so an unreachable
 * party is not asked again on every request.
 */
export class ResilientCache<T> {
  readonly #entries: LRUCache<string, Entry<T>>;
  readonly #options: ResilientCacheOptions<T>;

  constructor(options: ResilientCacheOptions<T>) {
    this.#options = options;
    this.#entries = new LRUCache({ max: options.max });
  }

  get(key: string): Promise<T> {
    const now = Date.now();
    const entry = this.#entry(key);
    if (entry.value !== undefined) {
      const ageMs = now - entry.loadedAtMs;
      if (ageMs < this.#options.ttlMs) {
        this.#options.onFreshHit?.();
        return Promise.resolve(entry.value);
      }
      if (ageMs < this.#options.ttlMs + this.#options.staleIfErrorMs) {
        if (!entry.pending && !this.#backingOff(entry, now)) {
          this.#load(key, entry, false).catch((error: unknown) =>
            this.#options.onRefreshFailure?.(key, error),
          );
        }
        return Promise.resolve(entry.value);
      }
    }
    if (entry.pending) return entry.pending;
    if (this.#backingOff(entry, now)) return Promise.reject(entry.failure);
    return this.#load(key, entry, false);
  }

  /**
   * Loads `key` again, joining a load already running, for a caller that knows the cached value is
   * outdated. No stale value stands in: a failed load rejects.
   */
  reload(key: string, { forced }: { forced: boolean }): Promise<T> {
    const entry = this.#entry(key);
    return entry.pending ?? this.#load(key, entry, forced);
  }

  /** @returns milliseconds since the value for `key` was last loaded, or `undefined` when never loaded. */
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

  /** Whether the last load of `key` failed within the failure backoff: the party looks unreachable. */
  isFailing(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && this.#backingOff(entry, Date.now());
  }

  /**
   * When the last load of `key` failed, if it did (a later success clears it): the cached value,
   * if any, is older than what the party would say now, which is unknown.
   */
  lastFailureAtMs(key: string): number | undefined {
    return this.#entries.get(key)?.failedAtMs;
  }

  /** The load of `key` under way, if any. */
  pendingLoad(key: string): Promise<T> | undefined {
    return this.#entries.get(key)?.pending;
  }

  #entry(key: string): Entry<T> {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { loadedAtMs: 0 };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  #backingOff(entry: Entry<T>, now: number): boolean {
    return entry.failedAtMs !== undefined && now - entry.failedAtMs < this.#options.failureBackoffMs;
  }

  #load(key: string, entry: Entry<T>, forced: boolean): Promise<T> {
    const pending = this.#options.load(key, forced).then(
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
        throw error;
      },
    );
    entry.pending = pending;
    return pending;
  }
}
