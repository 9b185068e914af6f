// The frontier: which URLs to fetch next (breadth first, requisites before new pages), deduplicated through the state.
import { predictedPathFor } from './paths.js';
import type { Scope } from './scope.js';
import type { CrawlState, QueuedUrl, UrlRecord } from './state.js';
import { detectTrap, type PathHistory, type Trap, type TrapLimits } from './traps.js';
import type { ExpectedType, ReferenceKind, SkipReason } from './types.js';
import { normalizeUrl, type QueryRules } from './url.js';

export type FrontierItem = QueuedUrl;

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

/** A link found in a document, as offered to the frontier. */
export interface OfferedLink {
  url: string;
  kind: ReferenceKind;
  expected: ExpectedType;
}

/** A URL that passed offer's first checks: normalised, in scope, or with the scope's softer reason to skip it. */
interface Screened {
  url: string;
  scopeReason: SkipReason | null;
}

/** What became of a URL offered to the frontier. */
export type Admission = { record: UrlRecord; claimed?: boolean } | { skipped: SkipReason };

/**
 * Screens remembered: a site's pages link the same navigation, images and stylesheets over and over (44,000 links
 * to 2,154 URLs in the bench's site), and normalising and scoping each is a URL parse or two. Cleared when full.
 */
const SCREEN_MEMO_SIZE = 20_000;

/** How often a worker with nothing to do asks whether other workers' URLs added to a shared frontier. */
const SHARED_POLL_MS = 100;

export class Frontier {
  /** URLs this process is fetching or processing right now. */
  private readonly inFlight = new Set<number>();
  private waiters: (() => void)[] = [];
  private stopped = false;
  /** URLs waiting, as far as this process knows (for progress). */
  private queued = 0;
  /** Skips that leave no record (out of scope, other schemes): counted only. */
  readonly uncountedSkips = new Map<SkipReason, number>();
  /** The first URL each trap reason stopped (at most TRAP_SAMPLES), for the report. */
  readonly trapSamples: { url: string; reason: string }[] = [];
  /** screen's answers by kind, then raw URL, while the scope's generation is screenGeneration. */
  readonly #screens: Record<ReferenceKind, Map<string, Screened | { skipped: SkipReason }>> = { page: new Map(), requisite: new Map() };
  #screenGeneration = 0;

  constructor(
    private readonly state: CrawlState,
    private readonly scope: Scope,
    private readonly limits: FrontierLimits,
  ) {
  }

  /** detectTrap is pure: the one count it may need is read from the state beforehand. */
  private async pathHistoryOf(url: string, kind: ReferenceKind): Promise<PathHistory> {
    const parsed = new URL(url);
    const atMost = this.limits.traps?.maxQueryVariants ?? Infinity;
    if (kind !== 'page' || parsed.search === '' || !Number.isFinite(atMost)) return { queryVariants: () => 0 };
    const prefix = `${parsed.origin}${parsed.pathname}?`;
    const known = await this.state.countQueryVariants(prefix, atMost);
    return { queryVariants: (asked) => (asked === prefix ? known : 0) };
  }

  /** Picks up every URL the state holds as queued (a resumed crawl, or an update that put the known URLs back). */
  async reload(): Promise<void> {
    await this.state.reloadQueue();
    this.queued = await this.state.countQueued();
    this.wake();
  }

  /** URLs waiting, as far as this process knows. */
  get queuedCount(): number {
    return this.queued;
  }

  /**
   * Offers a URL found in a document (or a seed, with no parent). In-scope URLs get a record; a new one joins the queue.
   * Returns the record, or why the URL was refused. `claim`: a new URL is in flight for the caller at once (claimed).
   */
  async offer(rawUrl: string, kind: ReferenceKind, expected: ExpectedType, parent: { id: number; depth: number } | null, claim = false): Promise<Admission> {
    const screened = this.screen(rawUrl, kind);
    if ('skipped' in screened) return screened;
    // readBack: the record is read, so admit answers with an Admission.
    return (await this.admit(screened, kind, expected, parent, { claim, knownAbsent: false, readBack: true }))!;
  }

  /**
   * offer's steps after the screen: the record, found, requeued, created or skipped. `knownAbsent`: the caller has
   * just read that the state has no record of the URL (offerAll), so it is not read again. Without `readBack` the
   * record is not read after a change and nothing is returned (offerAll wants none: on Redis each is a round trip).
   */
  private async admit(
    { url, scopeReason }: Screened,
    kind: ReferenceKind,
    expected: ExpectedType,
    parent: { id: number; depth: number } | null,
    how: { claim: boolean; knownAbsent: boolean; readBack: boolean },
  ): Promise<Admission | undefined> {
    const { claim, knownAbsent, readBack } = how;
    const depth = parent === null ? 0 : kind === 'page' ? parent.depth + 1 : parent.depth;

    const existing = knownAbsent ? undefined : await this.state.get(url);
    let reason: SkipReason | null = scopeReason;
    if (reason === null && kind === 'page' && depth > this.limits.depth) reason = 'depth';
    if (existing) {
      // Found again by a shorter path, or needed as a requisite after a page link was too deep.
      if (reason === null && existing.state === 'skipped' && existing.skip_reason === 'depth') {
        await this.state.requeue(existing.id, depth, kind);
        this.added();
        return readBack ? { record: (await this.state.getById(existing.id))! } : undefined;
      }
      return { record: existing };
    }
    if (reason === null && parent !== null && this.limits.traps) {
      const trap = detectTrap(url, this.limits.traps, await this.pathHistoryOf(url, kind), kind === 'page');
      if (trap) {
        reason = 'trap';
        this.noteTrap(url, trap);
      }
    }
    const entry = { url, kind, expected, depth, foundFrom: parent?.id ?? null, expectedPath: predictedPathFor(url, expected) };
    if (reason === null) {
      // The page limit is checked in the same step as the insert, so workers sharing a state never pass it together.
      const added = await this.state.enqueue(entry, this.limits.maxPages, claim);
      // Another worker recorded it since the caller looked: decide on that record, as if it had been read here.
      if (added === undefined && knownAbsent) return this.admit({ url, scopeReason }, kind, expected, parent, { ...how, knownAbsent: false });
      if (added === 'max-pages') reason = 'max-pages';
      else if (added !== undefined && claim) {
        this.inFlight.add(added);
        return { record: (await this.state.getById(added))!, claimed: true };
      } else if (added !== undefined) this.added();
    }
    if (reason !== null) await this.state.recordSkip(entry, reason);
    return readBack ? { record: (await this.state.get(url))! } : undefined;
  }

  /**
   * Offers the links of one document, in their order, as offer would one by one. Most are known already
   * (navigation, shared images): their records are read in one call to the state (one round trip on Redis, and no
   * promise per link), and only the others, new or to be requeued, go on as in offer.
   */
  async offerAll(references: readonly OfferedLink[], parent: { id: number; depth: number }): Promise<void> {
    const screened: { reference: OfferedLink; screen: Screened }[] = [];
    const urls = new Set<string>();
    for (const reference of references) {
      const screen = this.screen(reference.url, reference.kind);
      if ('skipped' in screen) continue;
      screened.push({ reference, screen });
      urls.add(screen.url);
    }
    if (screened.length === 0) return;
    const known = await this.state.linkTargets([...urls]);
    /** URLs admitted here: a second link to one reads the record the first made. */
    const admitted = new Set<string>();
    for (const { reference, screen } of screened) {
      const record = known.get(screen.url);
      // A known URL is left as it is, unless a page link was too deep for it before (admit decides that one).
      if (record !== undefined && !(record.state === 'skipped' && record.skip_reason === 'depth')) continue;
      const knownAbsent = record === undefined && !admitted.has(screen.url);
      admitted.add(screen.url);
      await this.admit(screen, reference.kind, reference.expected, parent, { claim: false, knownAbsent, readBack: false });
    }
  }

  /** The next URL to fetch; waits while others are in flight; null when the crawl is over or stopped. */
  async take(): Promise<FrontierItem | null> {
    for (;;) {
      if (this.stopped) return null;
      const item = await this.state.next();
      if (this.stopped) {
        if (item) await this.state.release(item.id);
        return null;
      }
      if (item) {
        this.inFlight.add(item.id);
        this.queued = Math.max(0, this.queued - 1);
        return item;
      }
      if (this.inFlight.size > 0) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      } else if (this.state.shared && (await this.state.busyElsewhere())) {
        // Another worker's URL may still add to the frontier (or its lease may expire): look again shortly.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, SHARED_POLL_MS);
          this.waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      } else {
        this.wake();
        return null;
      }
    }
  }

  /** Marks a queued URL as in flight; false when it is not queued or someone already holds it. */
  async claim(id: number): Promise<boolean> {
    if (this.inFlight.has(id) || !(await this.state.claim(id))) return false;
    this.inFlight.add(id);
    return true;
  }

  /** Tells the frontier a claimed URL is finished (done, failed, skipped or redirected). */
  async release(id: number): Promise<void> {
    try {
      await this.state.release(id);
    } finally {
      this.inFlight.delete(id);
      this.wake();
    }
  }

  /** Stops handing out URLs; those in flight finish. */
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  private added(): void {
    this.queued++;
    this.wake();
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

  /** The URL normalised, and the scope's reason to skip it (the checks of offer before the state is asked); or why not. */
  private screen(rawUrl: string, kind: ReferenceKind): Screened | { skipped: SkipReason } {
    const screens = this.#screens[kind];
    if (this.#screenGeneration !== this.scope.generation) {
      this.#screens.page.clear();
      this.#screens.requisite.clear();
      this.#screenGeneration = this.scope.generation;
    } else if (screens.size >= SCREEN_MEMO_SIZE) {
      screens.clear();
    }
    let screened = screens.get(rawUrl);
    if (screened === undefined) {
      screened = this.screenAnew(rawUrl, kind);
      screens.set(rawUrl, screened);
    }
    if ('skipped' in screened) this.countSkip(screened.skipped);
    return screened;
  }

  private screenAnew(rawUrl: string, kind: ReferenceKind): Screened | { skipped: SkipReason } {
    let url: string;
    try {
      url = normalizeUrl(rawUrl, this.limits.query);
    } catch {
      return { skipped: 'scheme' };
    }
    const scopeReason = kind === 'page' ? this.scope.pageSkipReason(url) : this.scope.requisiteSkipReason(url);
    if (scopeReason === 'out-of-scope' || scopeReason === 'scheme') return { skipped: scopeReason };
    return { url, scopeReason };
  }

  private countSkip(reason: SkipReason): void {
    this.uncountedSkips.set(reason, (this.uncountedSkips.get(reason) ?? 0) + 1);
  }
}
