// The SQLite backend's memory of recently used URL records: a bounded, write-through cache in front of the table.
import { Generations } from './generations.js';
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
 * Least recently used out first, by generations (generations.ts).
 */
export class RecordCache {
  private readonly records: Generations<string, UrlRecord>;
  private readonly urlById = new Map<number, string>();

  constructor(capacity = RECORD_CACHE_CAPACITY) {
    this.records = new Generations(Math.max(1, Math.floor(capacity / 2)), (dropped) => {
      for (const record of dropped.values()) this.urlById.delete(record.id);
    });
  }

  get size(): number {
    return this.records.size;
  }

  get(url: string): UrlRecord | undefined {
    return this.records.get(url);
  }

  getById(id: number): UrlRecord | undefined {
    const url = this.urlById.get(id);
    return url === undefined ? undefined : this.get(url);
  }

  put(record: UrlRecord): UrlRecord {
    // Frozen: a caller that changed a record it was handed would change what every later reader sees.
    Object.freeze(record);
    this.records.set(record.url, record);
    this.urlById.set(record.id, record.url);
    return record;
  }

  /** Applies an UPDATE of one row, if that row is cached. */
  patch(id: number, fields: Partial<UrlRecord>): void {
    const url = this.urlById.get(id);
    if (url !== undefined) this.records.replace(url, (current) => Object.freeze({ ...current, ...fields }));
  }

  clear(): void {
    this.records.clear();
    this.urlById.clear();
  }
}
