// A page's requests in flight and when its network last changed, to wait for a quiet network (visit.ts).
import { performance } from 'node:perf_hooks';

/** A request open this long is a stream or a long poll, not content still coming. */
const LONG_REQUEST_MS = 3_000;

/** Keys are the page's request objects; anything with identity will do. */
export class NetworkActivity {
  private readonly inFlight = new Map<object, number>();
  private readonly done = new WeakSet<object>();
  private readonly waiting = new Map<object, () => void>();
  private lastChange = performance.now();
  private onChange: (() => void)[] = [];
  private released = false;
  /** Requests started or ended so far: a change of this number means the network did something. */
  changes = 0;
  /** fetch() and XMLHttpRequest requests of the page's own document reported so far. */
  scriptRequests = 0;

  /** `byScript`: a fetch() or XMLHttpRequest of the page's own document (not of a frame in it). */
  started(request: object, byScript = false): void {
    this.inFlight.set(request, performance.now());
    if (byScript) this.scriptRequests++;
    this.changed();
  }

  finished(request: object): void {
    this.inFlight.delete(request);
    this.done.add(request);
    this.waiting.get(request)?.();
    this.waiting.delete(request);
    this.changed();
  }

  /** Resolves when the request's response is complete or it failed (or the visit ended). */
  settled(request: object): Promise<void> {
    if (this.released || this.done.has(request)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(request, resolve));
  }

  /** The visit is over: nothing waits for its requests any longer (their politeness slots are freed). */
  releaseAll(): void {
    this.released = true;
    for (const resolve of this.waiting.values()) resolve();
    this.waiting.clear();
  }

  /**
   * True once no request but long-running ones has been open for quietMs (counted from `since` at the earliest, a
   * performance.now() time); false when maxMs passed first.
   */
  async waitForQuiet(quietMs: number, maxMs: number, since = 0): Promise<boolean> {
    const giveUpAt = performance.now() + maxMs;
    for (;;) {
      const now = performance.now();
      const open = [...this.inFlight.values()].filter((startedAt) => now - startedAt < LONG_REQUEST_MS);
      const quietSince = Math.max(this.lastChange, since);
      if (open.length === 0 && now - quietSince >= quietMs) return true;
      if (now >= giveUpAt) return false;
      const nextCheck = open.length === 0 ? quietSince + quietMs : Math.min(...open) + LONG_REQUEST_MS;
      await this.nextChange(Math.max(1, Math.min(giveUpAt, nextCheck) - now));
    }
  }

  /** True once `count` script requests were reported (see started); false when maxMs passed first. */
  async waitForScriptRequests(count: number, maxMs: number): Promise<boolean> {
    const giveUpAt = performance.now() + maxMs;
    while (this.scriptRequests < count) {
      const now = performance.now();
      if (now >= giveUpAt || this.released) return false;
      await this.nextChange(giveUpAt - now);
    }
    return true;
  }

  /** How long no request has started or ended, in ms. */
  quietForMs(): number {
    return performance.now() - this.lastChange;
  }

  /** Whether a request that is not a stream or a long poll is open. */
  busy(): boolean {
    const now = performance.now();
    return [...this.inFlight.values()].some((startedAt) => now - startedAt < LONG_REQUEST_MS);
  }

  private changed(): void {
    this.changes++;
    this.lastChange = performance.now();
    const listeners = this.onChange;
    this.onChange = [];
    for (const listener of listeners) listener();
  }

  private nextChange(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      this.onChange.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
