/**
 * A map of at most `capacity` entries that keeps the recently used: two generations of at most
 * half the capacity each. New entries go into the recent one; reading an older entry moves it there;
 * when the recent generation is full it becomes the older one and the older one is dropped whole.
 * So it holds between half and all of its capacity, and every operation is a few map operations.
 *
 * Why not one `Map` evicting its first key (`keys().next()`): V8's ordered hash table leaves a hole
 * for each deleted entry until it rehashes, and iteration walks the holes, so a map used as a queue
 * pays for every entry deleted since the last rehash on each eviction — measured here at 5 µs a step
 * with 16,384 entries and 40 µs with 100,000, against under 0.5 µs for this.
 */
export class RecentMap<K, V> {
  #recent = new Map<K, V>();
  #older = new Map<K, V>();
  readonly #half: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 2) throw new RangeError(`capacity must be a whole number ≥ 2, got ${capacity}`);
    this.#half = Math.floor(capacity / 2);
  }

  get size(): number {
    return this.#recent.size + this.#older.size;
  }

  has(key: K): boolean {
    return this.#recent.has(key) || this.#older.has(key);
  }

  /** The entry's value, which counts as a use. */
  get(key: K): V | undefined {
    const recent = this.#recent.get(key);
    if (recent !== undefined) return recent;
    if (!this.#older.has(key)) return undefined;
    const older = this.#older.get(key) as V;
    this.#older.delete(key);
    this.#insert(key, older);
    return older;
  }

  set(key: K, value: V): void {
    this.#older.delete(key);
    if (this.#recent.has(key)) this.#recent.set(key, value);
    else this.#insert(key, value);
  }

  /** Removes the entry and returns its value. */
  take(key: K): V | undefined {
    const recent = this.#recent.get(key);
    if (recent !== undefined || this.#recent.has(key)) {
      this.#recent.delete(key);
      return recent;
    }
    const older = this.#older.get(key);
    this.#older.delete(key);
    return older;
  }

  #insert(key: K, value: V): void {
    if (this.#recent.size >= this.#half) {
      this.#older = this.#recent;
      this.#recent = new Map();
    }
    this.#recent.set(key, value);
  }
}
