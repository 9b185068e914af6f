// Politeness shared by every request: a slot limit per host, a minimum gap between request starts, and the crawl's
// limit on requests on the wire.
import pLimit, { type LimitFunction } from 'p-limit';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { ACQUIRE_SLOT, RELEASE_SLOT, RENEW_SLOTS } from './state-redis-scripts.js';

interface HostState {
  /** Tasks running on the host that send their request through the crawl's HTTP agent (see runThroughAgent). */
  agentRunning: number;
  /** Other tasks running on the host (the browser's requests, which have connections of their own). */
  otherRunning: number;
  /** When the previous delayed request ended, on the monotonic clock. */
  lastEndAt: number;
  /** robots.txt crawl-delay for this host, if any. */
  delayMs: number;
  /** When the most recent delayed task started, on the monotonic clock. */
  lastStartAt: number;
  peak: number;
}

/** A task waiting for its host's slot (and, through the agent, for room on the wire). */
interface Waiter {
  state: HostState;
  throughAgent: boolean;
  start: () => void;
}

export interface HostLimiterOptions {
  /** Requests on the wire at once to one host. */
  perHost: number;
  /** Minimum gap between request starts on one host (--delay). */
  delayMs: number;
  /** Requests through the agent on the wire at once over all hosts (--concurrency); no limit when left out. */
  total?: number;
  /**
   * Requests through the agent that may start while all of their host's slots are taken, up to this many a host:
   * they wait in the agent's queue, which holds at most perHost connections to a host, and each goes out on the
   * next of them that frees. The crawler's own work for a request is then done before the connection frees, not in
   * the gap between two of its requests. 0 (the default) when no such agent stands behind the limiter.
   */
  aheadPerHost?: number;
}

/** What the crawl asks of politeness: a slot of a host to run a request in, and the host's robots.txt crawl-delay. */
export interface HostGate {
  run<T>(host: string, task: () => Promise<T>): Promise<T>;
  /** run() for a task that sends one request through the crawl's HTTP agent: it counts against `total` too. */
  runThroughAgent<T>(host: string, task: () => Promise<T>): Promise<T>;
  setHostDelay(host: string, delayMs: number): void;
}

export class HostLimiter implements HostGate {
  readonly #perHost: number;
  readonly #delayMs: number;
  readonly #total: number;
  readonly #ahead: number;
  readonly #hosts = new Map<string, HostState>();
  /** In arrival order; a task whose host is full waits without holding back those of other hosts. */
  readonly #waiting: Waiter[] = [];
  /** Requests through the agent on the wire: per host, the smaller of those running and perHost. */
  #onTheWire = 0;

  constructor(options: HostLimiterOptions) {
    if (!Number.isInteger(options.perHost) || options.perHost < 1) throw new RangeError(`perHost must be a positive integer, got ${options.perHost}`);
    if (!(options.delayMs >= 0)) throw new RangeError(`delayMs must be ≥ 0, got ${options.delayMs}`);
    this.#perHost = options.perHost;
    this.#delayMs = options.delayMs;
    this.#total = options.total ?? Number.POSITIVE_INFINITY;
    this.#ahead = options.aheadPerHost ?? 0;
  }

  /** Sets a host's minimum gap (robots crawl-delay); the larger of this and the global delay applies. */
  setHostDelay(host: string, delayMs: number): void {
    this.#state(host).delayMs = Math.max(0, delayMs);
  }

  /**
   * Runs `task` when the host has a free slot and its gap has passed. With a delay (--delay or a robots.txt
   * crawl-delay) requests to the host go one at a time, each starting at least the delay after the previous one
   * ended, so the origin sees the gap however long a request took to reach it.
   */
  run<T>(host: string, task: () => Promise<T>): Promise<T> {
    return this.#run(host, false, task);
  }

  /**
   * The same for a task that sends one request through the crawl's HTTP agent: it also counts against `total`, and
   * when its host's slots are all taken by such tasks it may start ahead (see aheadPerHost).
   */
  runThroughAgent<T>(host: string, task: () => Promise<T>): Promise<T> {
    return this.#run(host, true, task);
  }

  async #run<T>(host: string, throughAgent: boolean, task: () => Promise<T>): Promise<T> {
    const state = this.#state(host);
    await new Promise<void>((start) => {
      this.#waiting.push({ state, throughAgent, start });
      this.#admit();
    });
    try {
      const gapMs = this.#gapOf(state);
      if (gapMs === 0) return await task();
      const startAt = Math.max(state.lastEndAt, state.lastStartAt) + gapMs;
      const now = performance.now();
      // A referenced timer: the task is pending work, and an unref'd timer could let the process exit first.
      if (startAt > now) await new Promise((resolve) => setTimeout(resolve, Math.ceil(startAt - now)));
      state.lastStartAt = performance.now();
      try {
        return await task();
      } finally {
        state.lastEndAt = performance.now();
      }
    } finally {
      this.#finish(state, throughAgent);
    }
  }

  /** Starts every waiting task that may start now, in arrival order. */
  #admit(): void {
    for (let i = 0; i < this.#waiting.length; ) {
      const waiter = this.#waiting[i]!;
      if (!this.#mayStart(waiter)) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      const { state } = waiter;
      if (waiter.throughAgent) {
        if (state.agentRunning < this.#perHost) this.#onTheWire++;
        state.agentRunning++;
      } else {
        state.otherRunning++;
      }
      state.peak = Math.max(state.peak, this.#hostWire(state));
      waiter.start();
    }
  }

  #mayStart({ state, throughAgent }: Waiter): boolean {
    const hostWire = this.#hostWire(state);
    // With a delay, one request at a time (the gap is counted from the end of the previous one).
    if (this.#gapOf(state) > 0) return state.agentRunning + state.otherRunning === 0 && (!throughAgent || this.#onTheWire < this.#total);
    if (hostWire < this.#perHost) return !throughAgent || this.#onTheWire < this.#total;
    // All the host's slots are taken: only by requests through the agent can one more wait there for its turn.
    return throughAgent && state.otherRunning === 0 && state.agentRunning < this.#perHost + this.#ahead;
  }

  #finish(state: HostState, throughAgent: boolean): void {
    if (throughAgent) {
      // One that waited in the agent takes over this request's connection: the number on the wire stays.
      if (state.agentRunning <= this.#perHost) this.#onTheWire--;
      state.agentRunning--;
    } else {
      state.otherRunning--;
    }
    this.#admit();
  }

  /** Requests to the host on the wire: the agent sends at most perHost of its own at once. */
  #hostWire(state: HostState): number {
    return state.otherRunning + Math.min(state.agentRunning, this.#perHost);
  }

  #gapOf(state: HostState): number {
    return Math.max(this.#delayMs, state.delayMs);
  }

  /** Most requests ever on the wire at once to a host (for tests and the report). */
  peak(host: string): number {
    return this.#hosts.get(host.toLowerCase())?.peak ?? 0;
  }

  /** Hosts are keyed case-insensitively; pass URL.host (with port) so two ports of one name count apart. */
  #state(host: string): HostState {
    const key = host.toLowerCase();
    let state = this.#hosts.get(key);
    if (!state) {
      state = { agentRunning: 0, otherRunning: 0, lastEndAt: Number.NEGATIVE_INFINITY, delayMs: 0, lastStartAt: Number.NEGATIVE_INFINITY, peak: 0 };
      this.#hosts.set(key, state);
    }
    return state;
  }
}

/** Where a RedisHostLimiter keeps its slots: the crawl's Redis and key prefix, and how long a slot outlives its holder. */
export interface SharedSlots {
  redis: Redis;
  prefix: string;
  /** A slot not renewed for this long (its worker died) is free again. */
  slotMs: number;
  /** This worker's name (host:pid:…), which starts each slot's token, so a dead worker's slots can be told apart. */
  worker: string;
}

/**
 * The same limits held in Redis, so they apply across every worker of a crawl: at most perHost requests in flight
 * to a host, and with a delay one at a time, each starting the gap after the previous one ended. A local limiter in
 * front keeps this process from asking Redis for more slots than it could use.
 */
export class RedisHostLimiter implements HostGate {
  readonly #local: HostLimiter;
  readonly #delays = new Map<string, number>();
  /** Slots this process holds, by host, renewed until released. */
  readonly #held = new Map<string, Set<string>>();
  readonly #renewal: NodeJS.Timeout;
  /** `total` for this process; a slot held in Redis is held for a request on the wire, so none waits ahead here. */
  readonly #total: LimitFunction;

  constructor(
    private readonly options: HostLimiterOptions,
    private readonly shared: SharedSlots,
  ) {
    this.#local = new HostLimiter({ perHost: options.perHost, delayMs: 0 });
    this.#total = pLimit(options.total ?? Number.POSITIVE_INFINITY);
    this.#renewal = setInterval(() => void this.#renew().catch(() => undefined), Math.max(50, Math.floor(shared.slotMs / 3)));
    this.#renewal.unref();
  }

  setHostDelay(host: string, delayMs: number): void {
    this.#delays.set(host.toLowerCase(), Math.max(0, delayMs));
  }

  run<T>(host: string, task: () => Promise<T>): Promise<T> {
    const key = host.toLowerCase();
    return this.#local.run(key, async () => {
      const token = `${this.shared.worker}:${randomBytes(6).toString('hex')}`;
      const gapMs = Math.max(this.options.delayMs, this.#delays.get(key) ?? 0);
      for (;;) {
        const waitMs = Number(await ACQUIRE_SLOT.run(this.shared.redis, [this.shared.prefix, key, token, this.options.perHost, gapMs, this.shared.slotMs]));
        if (waitMs === 0) break;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
      const held = this.#held.get(key) ?? new Set<string>();
      this.#held.set(key, held.add(token));
      try {
        return await task();
      } finally {
        held.delete(token);
        await RELEASE_SLOT.run(this.shared.redis, [this.shared.prefix, key, token]);
      }
    });
  }

  runThroughAgent<T>(host: string, task: () => Promise<T>): Promise<T> {
    return this.#total(() => this.run(host, task));
  }

  async #renew(): Promise<void> {
    for (const [host, tokens] of this.#held) {
      if (tokens.size > 0) await RENEW_SLOTS.run(this.shared.redis, [this.shared.prefix, host, this.shared.slotMs, ...tokens]);
    }
  }
}
