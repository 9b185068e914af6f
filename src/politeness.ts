// Per-host politeness shared by every request: a slot limit and a minimum gap between request starts.
import pLimit, { type LimitFunction } from 'p-limit';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { ACQUIRE_SLOT, RELEASE_SLOT, RENEW_SLOTS } from './state-redis-scripts.js';

interface HostState {
  limit: LimitFunction;
  /** One at a time while a delay applies: the gap is measured from the end of the previous request. */
  serial: LimitFunction;
  /** When the previous delayed request ended, on the monotonic clock. */
  lastEndAt: number;
  /** robots.txt crawl-delay for this host, if any. */
  delayMs: number;
  /** When the most recently scheduled task starts (or started), on the monotonic clock. */
  lastStartAt: number;
  running: number;
  peak: number;
}

export interface HostLimiterOptions {
  /** Tasks running at once on one host. */
  perHost: number;
  /** Minimum gap between request starts on one host (--delay). */
  delayMs: number;
}

/** What the crawl asks of politeness: a slot of a host to run a request in, and the host's robots.txt crawl-delay. */
export interface HostGate {
  run<T>(host: string, task: () => Promise<T>): Promise<T>;
  setHostDelay(host: string, delayMs: number): void;
}

export class HostLimiter implements HostGate {
  readonly #perHost: number;
  readonly #delayMs: number;
  readonly #hosts = new Map<string, HostState>();

  constructor(options: HostLimiterOptions) {
    if (!Number.isInteger(options.perHost) || options.perHost < 1) throw new RangeError(`perHost must be a positive integer, got ${options.perHost}`);
    if (!(options.delayMs >= 0)) throw new RangeError(`delayMs must be ≥ 0, got ${options.delayMs}`);
    this.#perHost = options.perHost;
    this.#delayMs = options.delayMs;
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
    const state = this.#state(host);
    return state.limit(async () => {
      if (Math.max(this.#delayMs, state.delayMs) > 0) return state.serial(() => this.#spaced(state, task));
      await this.#waitForTurn(state);
      return this.#track(state, task);
    });
  }

  async #spaced<T>(state: HostState, task: () => Promise<T>): Promise<T> {
    const gapMs = Math.max(this.#delayMs, state.delayMs);
    const startAt = Math.max(state.lastEndAt, state.lastStartAt) + gapMs;
    const now = performance.now();
    if (startAt > now) await new Promise((resolve) => setTimeout(resolve, Math.ceil(startAt - now)));
    state.lastStartAt = performance.now();
    try {
      return await this.#track(state, task);
    } finally {
      state.lastEndAt = performance.now();
    }
  }

  /** Counts the task as running on its host while it runs (for peak()). */
  async #track<T>(state: HostState, task: () => Promise<T>): Promise<T> {
    state.running++;
    state.peak = Math.max(state.peak, state.running);
    try {
      return await task();
    } finally {
      state.running--;
    }
  }

  /** Highest number of tasks ever running at once for a host (for tests and the report). */
  peak(host: string): number {
    return this.#hosts.get(host.toLowerCase())?.peak ?? 0;
  }

  /**
   * Books this task's start time before waiting, so tasks holding other slots of the same host line up behind it.
   * The wait uses a referenced timer: the task is pending work, and an unref'd timer could let the process exit first.
   */
  async #waitForTurn(state: HostState): Promise<void> {
    const gapMs = Math.max(this.#delayMs, state.delayMs);
    const now = performance.now();
    const startAt = Math.max(now, state.lastStartAt + gapMs);
    state.lastStartAt = startAt;
    if (startAt > now) await new Promise((resolve) => setTimeout(resolve, Math.ceil(startAt - now)));
  }

  /** Hosts are keyed case-insensitively; pass URL.host (with port) so two ports of one name count apart. */
  #state(host: string): HostState {
    const key = host.toLowerCase();
    let state = this.#hosts.get(key);
    if (!state) {
      state = {
        limit: pLimit(this.#perHost),
        serial: pLimit(1),
        lastEndAt: Number.NEGATIVE_INFINITY,
        delayMs: 0,
        lastStartAt: Number.NEGATIVE_INFINITY,
        running: 0,
        peak: 0,
      };
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

  constructor(
    private readonly options: HostLimiterOptions,
    private readonly shared: SharedSlots,
  ) {
    this.#local = new HostLimiter({ perHost: options.perHost, delayMs: 0 });
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

  async #renew(): Promise<void> {
    for (const [host, tokens] of this.#held) {
      if (tokens.size > 0) await RENEW_SLOTS.run(this.shared.redis, [this.shared.prefix, host, this.shared.slotMs, ...tokens]);
    }
  }
}
