/**
 * A least-recently-used cache bounded by a byte budget, for values that must be released
 * (onnxruntime sessions holding packed weights). A value still in use when it is evicted is
 * released once its last user is done, so eviction never pulls it out from under a run.
 */
interface Entry<V> {
  readonly value: Promise<V>;
  readonly bytes: number;
  users: number;
  evicted: boolean;
}

export class LruByBytes<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private held = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly release: (value: V) => Promise<void>,
  ) {
    if (!(maxBytes >= 0)) throw new RangeError(`the cache bound must be a non-negative number of bytes, got ${maxBytes}`);
  }

  /** Bytes held by cached values (evicted values still in use are not counted). */
  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * Runs `use` on the value for `key`, made by `make` (costing `bytes`) when absent. A value
   * larger than the whole budget is made for this call only and released after it.
   */
  async with<R>(key: string, bytes: number, make: () => Promise<V>, use: (value: V) => Promise<R>): Promise<R> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-inserted: Map order is recency order, oldest first
      this.entries.set(key, entry);
    } else {
      const made: Entry<V> = { value: make(), bytes, users: 0, evicted: false };
      if (bytes <= this.maxBytes) {
        this.entries.set(key, made);
        this.held += bytes;
        this.evictBeyondBudget();
      } else {
        made.evicted = true; // for this call only
      }
      made.value.catch(() => this.drop(key, made)); // a value that failed to build is not kept
      entry = made;
    }
    entry.users++;
    try {
      return await use(await entry.value);
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) await this.releaseQuietly(entry);
    }
  }

  /** Empties the cache; values in use are released when their last run ends. */
  async clear(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    this.held = 0;
    await Promise.all(
      entries.map((e) => {
        e.evicted = true;
        return e.users === 0 ? this.releaseQuietly(e) : Promise.resolve();
      }),
    );
  }

  /** Evicts the least recently used values until the budget holds; the newest always fits. */
  private evictBeyondBudget(): void {
    for (const [key, entry] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(key);
      this.held -= entry.bytes;
      entry.evicted = true;
      if (entry.users === 0) void this.releaseQuietly(entry);
    }
  }

  private drop(key: string, entry: Entry<V>): void {
    if (this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    this.held -= entry.bytes;
    entry.evicted = true;
  }

  private async releaseQuietly(entry: Entry<V>): Promise<void> {
    let value: V;
    try {
      value = await entry.value;
    } catch {
      return; // never built: nothing to release
    }
    // Called unawaited on eviction: a failing release must not become an unhandled rejection,
    // and there is nothing left to do with the value either way.
    await this.release(value).catch(() => undefined);
  }
}
