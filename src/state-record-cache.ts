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
 */
export class RecordCache {
  private readonly byUrl = new Map<string, UrlRecord>();
  private readonly urlById = new Map<number, string>();

  constructor(private readonly capacity = RECORD_CACHE_CAPACITY) {}

  get size(): number {
    return this.byUrl.size;
  }

  get(url: string): UrlRecord | undefined {
    const record = this.byUrl.get(url);
    if (record === undefined) return undefined;
    // Most recently used last, so eviction takes the least recently used first.
    this.byUrl.delete(url);
    this.byUrl.set(url, record);
    return record;
  }

  getById(id: number): UrlRecord | undefined {
    const url = this.urlById.get(id);
    return url === undefined ? undefined : this.get(url);
  }

  put(record: UrlRecord): UrlRecord {
    if (!this.byUrl.delete(record.url) && this.byUrl.size >= this.capacity) {
      const oldest = this.byUrl.keys().next().value as string;
      this.urlById.delete(this.byUrl.get(oldest)!.id);
      this.byUrl.delete(oldest);
    }
    // Frozen: a caller that changed a record it was handed would change what every later reader sees.
    Object.freeze(record);
    this.byUrl.set(record.url, record);
    this.urlById.set(record.id, record.url);
    return record;
  }

  /** Applies an UPDATE of one row, if that row is cached. */
  patch(id: number, fields: Partial<UrlRecord>): void {
    const url = this.urlById.get(id);
    if (url !== undefined) this.byUrl.set(url, Object.freeze({ ...this.byUrl.get(url)!, ...fields }));
  }

  clear(): void {
    this.byUrl.clear();
    this.urlById.clear();
  }
}
