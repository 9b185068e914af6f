// The SQLite backend's queue of one kind: a bounded window onto the table's queued rows, so memory does not grow with the site.
import type { QueuedUrl } from './state.js';
import type { ReferenceKind } from './types.js';

/** Queued URLs kept in memory per kind; the rest wait in the database, so memory does not grow with the site. */
export const LANE_CAPACITY = 4096;

/**
 * One kind's queue: a bounded window onto the database's queued rows, in breadth-first order (depth, then id).
 * When more URLs arrive than fit, the lane only notes that the database holds more and reads them back later.
 */
export class Lane {
  private items: QueuedUrl[] = [];
  private head = 0;
  /** The database holds queued rows of this kind that are not in the window. */
  private behind = true;

  constructor(
    private readonly kind: ReferenceKind,
    private readonly load: (kind: ReferenceKind, limit: number) => QueuedUrl[],
  ) {}

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: QueuedUrl): void {
    if (this.behind || this.size >= LANE_CAPACITY) this.behind = true;
    else this.items.push(item);
  }

  /** Forgets the window: the next shift reads the database again. */
  invalidate(): void {
    this.items = [];
    this.head = 0;
    this.behind = true;
  }

  shift(): QueuedUrl | undefined {
    if (this.size === 0 && this.behind) {
      // Rows still in flight come back too; the claim check skips them.
      this.items = this.load(this.kind, LANE_CAPACITY);
      this.head = 0;
      this.behind = this.items.length >= LANE_CAPACITY;
    }
    if (this.size === 0) return undefined;
    const item = this.items[this.head]!;
    this.head++;
    // Drop the consumed prefix now and then instead of Array.shift on every take (which is O(n)).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }
}
