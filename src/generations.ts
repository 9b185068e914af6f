// A bounded map that forgets what was used least recently, by generations: cheap enough for a look-up on every link.

/**
 * Entries go into the recent generation; when it is full it becomes the older one and the older one's entries are
 * dropped, and an entry read from the older one moves back to the recent. A hit is one map look-up: an exact order (a
 * delete and a set on every hit) costs more than most of what such a map saves.
 */
export class Generations<K, V> {
  private recent = new Map<K, V>();
  private older = new Map<K, V>();

  constructor(
    private readonly generationSize: number,
    /** Told of the entries a rotation drops. */
    private readonly onDrop?: (dropped: ReadonlyMap<K, V>) => void,
  ) {}

  get size(): number {
    return this.recent.size + this.older.size;
  }

  get(key: K): V | undefined {
    const value = this.recent.get(key);
    if (value !== undefined) return value;
    const old = this.older.get(key);
    if (old === undefined) return undefined;
    this.older.delete(key);
    this.keep(key, old);
    return old;
  }

  set(key: K, value: V): void {
    this.older.delete(key);
    this.keep(key, value);
  }

  /** Replaces a held entry where it is, without counting it as a use; false when the key is not held. */
  replace(key: K, change: (value: V) => V): boolean {
    const generation = this.recent.has(key) ? this.recent : this.older;
    const current = generation.get(key);
    if (current === undefined) return false;
    generation.set(key, change(current));
    return true;
  }

  clear(): void {
    this.recent.clear();
    this.older.clear();
  }

  private keep(key: K, value: V): void {
    if (this.recent.size >= this.generationSize && !this.recent.has(key)) {
      this.onDrop?.(this.older);
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(key, value);
  }
}
