// The SQLite backend's memory of recently used URL records: a bounded, write-through cache in front of the table.
import type { UrlRecord } from './state.js';

/**
 * Records kept in memory. A page offers ~50 links and most are known already (navigation, shared images and
 * stylesheets): a map look-up instead of a SELECT each. A done record takes about 0.9 KB of heap (two hashes, three
 * paths), so the cache holds at most ~15 MB.
 */
export const RECORD_CACHE_CAPACITY = 16_384;

/**
 * Write-through: every change the backend makes to a cached row is applied here in the same step, and a change
 * made by a statement over many rows clears the cache. A record handed out is never changed afterwards (changes
 * replace it with a new object), so a caller holding one keeps a consistent snapshot, as with a row from SQLite.
 *
 * Least recently used out first, by generations: records go into the recent generation; when it is full it becomes
 * the older one and the older one is dropped, and a record read from the older one moves back to the recent. A hit
 * is one map look-up: an exact order (a delete and a set on every hit) cost more than the SELECT it saved.
 */
export class RecordCache {
  private recent = new Map<string, UrlRecord>();
  private older = new Map<string, UrlRecord>();
  private readonly urlById = new Map<number, string>();
  private readonly generationSize: number;

  constructor(capacity = RECORD_CACHE_CAPACITY) {
    this.generationSize = Math.max(1, Math.floor(capacity / 2));
  }

  get size(): number {
    return this.recent.size + this.older.size;
  }

  get(url: string): UrlRecord | undefined {
    const record = this.recent.get(url);
    if (record !== undefined) return record;
    const old = this.older.get(url);
    if (old === undefined) return undefined;
    this.older.delete(url);
    this.keep(old);
    return old;
  }

  getById(id: number): UrlRecord | undefined {
    const url = this.urlById.get(id);
    return url === undefined ? undefined : this.get(url);
  }

  put(record: UrlRecord): UrlRecord {
    // Frozen: a caller that changed a record it was handed would change what every later reader sees.
    Object.freeze(record);
    this.older.delete(record.url);
    this.keep(record);
    this.urlById.set(record.id, record.url);
    return record;
  }

  /** Applies an UPDATE of one row, if that row is cached. */
  patch(id: number, fields: Partial<UrlRecord>): void {
    const url = this.urlById.get(id);
    if (url === undefined) return;
    const generation = this.recent.has(url) ? this.recent : this.older;
    const current = generation.get(url);
    if (current !== undefined) generation.set(url, Object.freeze({ ...current, ...fields }));
  }

  clear(): void {
    this.recent.clear();
    this.older.clear();
    this.urlById.clear();
  }

  /** Into the recent generation; a full one becomes the older, and the older one's records leave the cache. */
  private keep(record: UrlRecord): void {
    if (this.recent.size >= this.generationSize && !this.recent.has(record.url)) {
      for (const dropped of this.older.values()) this.urlById.delete(dropped.id);
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(record.url, record);
  }
}
