// The frontier: which URLs to fetch next (breadth first, requisites before new pages), deduplicated through the state.
import { predictedPathFor } from './paths.js';
import type { Scope } from './scope.js';
import type { CrawlState, UrlRecord } from './state.js';
import { detectTrap, type PathHistory, type Trap, type TrapLimits } from './traps.js';
import type { ExpectedType, ReferenceKind, SkipReason } from './types.js';
import { normalizeUrl, type QueryRules } from './url.js';

export interface FrontierItem {
  id: number;
  url: string;
  kind: ReferenceKind;
  depth: number;
}

export interface FrontierLimits {
  depth: number;
  maxPages: number;
  /** Crawler-trap limits for URLs found in documents (seeds and sitemap URLs are exempt); none when absent. */
  traps?: TrapLimits;
  /** Query normalisation before dedupe; queries are kept as sent when absent. */
  query?: QueryRules;
  /** Told about each new URL refused as a trap. */
  onTrap?: (url: string, trap: Trap) => void;
}

/** The first URL refused by each distinct trap reason, for the report; a few, so memory stays bounded. */
const TRAP_SAMPLES = 20;

/** What became of a URL offered to the frontier. */
export type Admission = { record: UrlRecord } | { skipped: SkipReason };

/** Queued URLs kept in memory per kind; the rest wait in the state database, so memory does not grow with the site. */
const LANE_CAPACITY = 4096;

/**
 * One kind's queue: a bounded window onto the database's queued rows, in breadth-first order (depth, then id).
 * When more URLs arrive than fit, the lane only notes that the database holds more and reads them back later.
 */
class Lane {
  private items: FrontierItem[] = [];
  private head = 0;
  /** The database holds queued rows of this kind that are not in the window. */
  private behind = false;

  constructor(
    private readonly kind: ReferenceKind,
    private readonly load: (kind: ReferenceKind, limit: number) => FrontierItem[],
  ) {}

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: FrontierItem): void {
    if (this.behind || this.size >= LANE_CAPACITY) this.behind = true;
    else this.items.push(item);
  }

  /** Forgets the window: the next shift reads the database again. */
  invalidate(): void {
    this.items = [];
    this.head = 0;
    this.behind = true;
  }

  shift(): FrontierItem | undefined {
    if (this.size === 0 && this.behind) {
      // Rows still in flight come back too; the frontier's claim check skips them.
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

export class Frontier {
  private readonly requisites: Lane;
  private readonly pages: Lane;
  /** URLs being fetched or processed right now. */
  private readonly inFlight = new Set<number>();
  private waiters: (() => void)[] = [];
  private stopped = false;
  private pageCount: number;
  /** Skips that leave no record (out of scope, other schemes): counted only. */
  readonly uncountedSkips = new Map<SkipReason, number>();
  /** The first URL each trap reason stopped (at most TRAP_SAMPLES), for the report. */
  readonly trapSamples: { url: string; reason: string }[] = [];
  private readonly pathHistory: PathHistory;

  constructor(
    private readonly state: CrawlState,
    private readonly scope: Scope,
    private readonly limits: FrontierLimits,
  ) {
    const load = (kind: ReferenceKind, limit: number) => state.queuedBatch(kind, limit);
    this.pathHistory = { queryVariants: (prefix, atMost) => state.countQueryVariants(prefix, atMost) };
    this.requisites = new Lane('requisite', load);
    this.pages = new Lane('page', load);
    this.pageCount = 0;
    this.reload();
  }

  /** Picks up every URL the state holds as queued (a resumed crawl, or an update that put the known URLs back). */
  reload(): void {
    this.pageCount = this.state.countPages();
    this.requisites.invalidate();
    this.pages.invalidate();
    this.wake();
  }

  /** URLs waiting in memory (more may wait in the database). */
  get queuedCount(): number {
    return this.pages.size + this.requisites.size;
  }

  /**
   * Offers a URL found in a document (or a seed, with no parent). In-scope URLs get a record; a new one joins the queue.
   * Returns the record, or why the URL was refused.
   */
  offer(rawUrl: string, kind: ReferenceKind, expected: ExpectedType, parent: { id: number; depth: number } | null): Admission {
    let url: string;
    try {
      url = normalizeUrl(rawUrl, this.limits.query);
    } catch {
      return this.countSkip('scheme');
    }
    const depth = parent === null ? 0 : kind === 'page' ? parent.depth + 1 : parent.depth;
    const scopeReason = kind === 'page' ? this.scope.pageSkipReason(url) : this.scope.requisiteSkipReason(url);
    if (scopeReason === 'out-of-scope' || scopeReason === 'scheme') return this.countSkip(scopeReason);

    const existing = this.state.get(url);
    let reason: SkipReason | null = scopeReason;
    if (reason === null && kind === 'page' && depth > this.limits.depth) reason = 'depth';
    if (existing) {
      // Found again by a shorter path, or needed as a requisite after a page link was too deep.
      if (reason === null && existing.state === 'skipped' && existing.skip_reason === 'depth') {
        this.state.requeue(existing.id, depth, kind);
        this.push({ id: existing.id, url, kind, depth });
        return { record: this.state.getById(existing.id)! };
      }
      return { record: existing };
    }
    if (reason === null && parent !== null && this.limits.traps) {
      const trap = detectTrap(url, this.limits.traps, this.pathHistory, kind === 'page');
      if (trap) {
        reason = 'trap';
        this.noteTrap(url, trap);
      }
    }
    if (reason === null && kind === 'page' && this.pageCount >= this.limits.maxPages) reason = 'max-pages';
    const entry = { url, kind, expected, depth, foundFrom: parent?.id ?? null, expectedPath: predictedPathFor(url, expected) };
    if (reason !== null) {
      this.state.recordSkip(entry, reason);
      return { record: this.state.get(url)! };
    }
    const id = this.state.enqueue(entry);
    if (id !== undefined) {
      if (kind === 'page') this.pageCount++;
      this.push({ id, url, kind, depth });
    }
    return { record: this.state.get(url)! };
  }

  /** The next URL to fetch; waits while others are in flight; null when the crawl is over or stopped. */
  async take(): Promise<FrontierItem | null> {
    for (;;) {
      if (this.stopped) return null;
      const item = this.shift();
      if (item) {
        // A URL can leave the queue by another route (a redirect landed on it); skip stale entries.
        if (!this.claim(item.id)) continue;
        return item;
      }
      if (this.inFlight.size === 0) {
        this.wake();
        return null;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Marks a queued URL as in flight; false when it is not queued or someone already holds it. */
  claim(id: number): boolean {
    if (this.inFlight.has(id) || this.state.getById(id)?.state !== 'queued') return false;
    this.inFlight.add(id);
    return true;
  }

  /** Tells the frontier a claimed URL is finished (done, failed, skipped or redirected). */
  release(id: number): void {
    this.inFlight.delete(id);
    this.wake();
  }

  /** Stops handing out URLs; those in flight finish. */
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  private push(item: FrontierItem): void {
    (item.kind === 'requisite' ? this.requisites : this.pages).push(item);
    this.wake();
  }

  private shift(): FrontierItem | undefined {
    return this.requisites.shift() ?? this.pages.shift();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private noteTrap(url: string, trap: Trap): void {
    if (this.trapSamples.length < TRAP_SAMPLES && !this.trapSamples.some((sample) => sample.reason === trap.reason)) {
      this.trapSamples.push({ url, reason: trap.reason });
    }
    this.limits.onTrap?.(url, trap);
  }

  private countSkip(reason: SkipReason): Admission {
    this.uncountedSkips.set(reason, (this.uncountedSkips.get(reason) ?? 0) + 1);
    return { skipped: reason };
  }
}
