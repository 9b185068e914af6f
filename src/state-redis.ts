// Crawl state in Redis, shared by every worker of a crawl: records, queue with leases, paths, links, options, counters.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { makeDirs } from './dirs.js';
import { SitemirrorError, messageOf } from './errors.js';
import { isHtmlType } from './documents.js';
import { isAlive } from './lock.js';
import { RedisHostLimiter, type HostGate, type HostLimiterOptions } from './politeness.js';
import { pathKey } from './state-sqlite.js';
import { CLAIM, CLAIM_PATH, GET_BY_URL, INSERT, LINK_TARGETS, LOCK, NEXT, REAP, RELEASE, RENEW, UNLOCK, UPDATE } from './state-redis-scripts.js';
import { Generations } from './generations.js';
import { RedisRecords } from './state-redis-records.js';
import { STATE_POINTER, checkStateFormat, newUrlRecord, type ChangeLists, type CrawlState, type LinkTarget, type NewUrl, type PreviousRecord, type QueuedUrl, type ScopeTest, type StateLocation, type StateTally, type UrlRecord, type UrlState, type WrittenFile } from './state.js';
import { STATE_DIR } from './store.js';
import type { ReferenceKind, SkipReason } from './types.js';
import { normalizeUrl } from './url.js';

const DEFAULT_LEASE_MS = 30_000;
const CONNECT_TIMEOUT_MS = 5_000;
/** How many URLs by id a worker keeps for referers (about 100 bytes each). */
const URLS_REMEMBERED = 32_768;
/** URLs asked about in one linkTargets call to Redis. */
const LINK_TARGETS_CHUNK = 2_000;

/** A state URL as it may be shown and written down: without its password. */
function withoutCredentials(stateUrl: string): string {
  const url = new URL(stateUrl);
  url.username = '';
  url.password = '';
  return url.href;
}

/** The crawl's keys are named after its seed and output folder: workers that agree on both share one crawl. */
function crawlPrefix(seed: string, outputDir: string): string {
  const digest = createHash('sha256').update(`${normalizeUrl(seed)}\n${resolve(outputDir)}`).digest('hex').slice(0, 16);
  return `sitemirror:${digest}:`;
}

export async function openRedisState(location: StateLocation & { stateUrl: string }): Promise<RedisState> {
  const shown = withoutCredentials(location.stateUrl);
  const pointerFile = join(location.outputDir, STATE_DIR, STATE_POINTER);
  let prefix: string;
  if (location.seed !== undefined && location.purpose === 'crawl') {
    prefix = crawlPrefix(location.seed, location.outputDir);
  } else if (existsSync(pointerFile)) {
    prefix = (JSON.parse(readFileSync(pointerFile, 'utf8')) as { prefix: string }).prefix;
  } else {
    throw new SitemirrorError('USAGE', `${location.outputDir} records no Redis state (${STATE_DIR}/${STATE_POINTER}): not a mirror made with --state`);
  }
  let connected = false;
  const redis = new Redis(location.stateUrl, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 3,
    // An unreachable state fails the start at once; a connection lost later is retried.
    retryStrategy: (times) => (connected ? Math.min(times * 200, 2_000) : null),
  });
  // Errors reach the caller through the commands that fail; the event is kept only for the start's message.
  let lastError: unknown;
  redis.on('error', (error) => (lastError = error));
  try {
    await redis.connect();
    await redis.ping();
    connected = true;
  } catch (error) {
    redis.disconnect();
    throw new SitemirrorError('STATE', `cannot reach the crawl state at ${shown}: ${messageOf(lastError ?? error)}`, { cause: error });
  }
  const state = new RedisState(redis, prefix, shown, location.leaseMs ?? DEFAULT_LEASE_MS);
  try {
    if (location.purpose === 'crawl') {
      // State first, then the folder: a worker that finds state but no pointer knows the folder was deleted since
      // (a starting worker writes its pointer before it writes any state).
      const known = (await redis.exists(`${prefix}seq`)) === 1;
      if (known && !existsSync(pointerFile)) {
        throw new SitemirrorError(
          'USAGE',
          `${shown} holds a crawl of ${location.seed} into ${location.outputDir}, but that folder holds no mirror any more: remove the old state (redis-cli -u URL --scan --pattern '${prefix}*' | xargs redis-cli -u URL del) or choose another folder`,
        );
      }
      // Written by every worker alike (the same content), atomically: update and verify find the state through it.
      makeDirs(join(location.outputDir, STATE_DIR));
      const temporary = `${pointerFile}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify({ url: shown, prefix })}\n`);
      renameSync(temporary, pointerFile);
    }
    await state.start(location.purpose);
  } catch (error) {
    await state.close();
    throw error;
  }
  return state;
}

export class RedisState implements CrawlState {
  readonly shared = true;
  /** This process among the workers (leases and locks name it). */
  private readonly worker = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly leased = new Set<number>();
  /**
   * The records of URLs this worker leased through next(), as it changed them since: while a worker holds a URL no
   * other writes its record, so reading it again would be a round trip for nothing.
   */
  private readonly held = new Map<number, UrlRecord>();
  /** URLs by id, for referers: an id's URL never changes. */
  private readonly urls = new Generations<number, string>(URLS_REMEMBERED / 2);
  private readonly renewal: NodeJS.Timeout;
  private readonly records: RedisRecords;
  private updateLock: (() => Promise<void>) | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly location: string,
    private readonly leaseMs: number,
  ) {
    this.records = new RedisRecords(redis, prefix);
    // Leases are renewed well before they run out; a worker that stops renewing (killed) loses them.
    this.renewal = setInterval(() => void this.renew().catch(() => undefined), Math.max(50, Math.floor(leaseMs / 3)));
    this.renewal.unref();
  }

  /** An update works alone on the state; a crawl refuses to join while one runs. A dead update is rolled back. */
  async start(purpose: StateLocation['purpose']): Promise<void> {
    await checkStateFormat(this, purpose);
    if (purpose === 'update') {
      const lock = await this.hold('update');
      if (!lock) throw new SitemirrorError('LOCKED', `another sitemirror update is using the crawl state at ${this.location}`);
      this.updateLock = lock;
    } else if (await this.heldByLiveWorker('update')) {
      if (purpose === 'verify') return; // reads the state as the running update leaves it
      throw new SitemirrorError('LOCKED', `a sitemirror update is using the crawl state at ${this.location}; start the crawl when it has finished`);
    }
    // An update that died (its copy of the state still aside) is undone, as SQLite rolls back its transaction.
    await this.records.rollbackUpdate();
    if (purpose !== 'verify') await this.releaseDeadLeases();
  }

  /** URLs leased to killed workers of this machine go back to the frontier now rather than when their leases run out. */
  private async releaseDeadLeases(): Promise<void> {
    const owners = await this.redis.hgetall(`${this.prefix}owner`);
    for (const [id, owner] of Object.entries(owners)) {
      const [host, pid] = owner.split(':');
      if (host === hostname() && !isAlive(Number(pid))) await this.run(RELEASE, id, owner);
    }
    // Their politeness slots too (a slot's token starts with its worker's name).
    for await (const keys of this.redis.scanStream({ match: `${this.prefix}host:*:slots`, count: 100 })) {
      for (const key of keys as string[]) {
        for (const token of await this.redis.zrange(key, '0', '-1')) {
          const [host, pid] = token.split(':');
          if (host === hostname() && !isAlive(Number(pid))) await this.redis.zrem(key, token);
        }
      }
    }
  }

  /**
   * Whether a live worker holds a lock. A holder on this machine whose process is gone (killed) holds nothing; one
   * on another machine is trusted until its lock expires.
   */
  private async heldByLiveWorker(name: string): Promise<boolean> {
    const holder = await this.redis.get(`${this.prefix}lock:${name}`);
    if (holder === null) return false;
    const [host, pid] = holder.split(':');
    if (host !== hostname() || isAlive(Number(pid))) return true;
    await this.run(UNLOCK, name, holder);
    return false;
  }

  private run(script: { run(redis: Redis, args: (string | number)[]): Promise<unknown> }, ...args: (string | number)[]): Promise<unknown> {
    return script.run(this.redis, [this.prefix, ...args]);
  }

  private async renew(): Promise<void> {
    if (this.leased.size > 0) await this.run(RENEW, this.leaseMs, this.worker, ...this.leased);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.redis.hget(`${this.prefix}meta`, key)) ?? undefined;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.redis.hset(`${this.prefix}meta`, key, value);
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string | undefined> {
    const added = await this.redis.hsetnx(`${this.prefix}meta`, key, value);
    return added === 1 ? undefined : await this.getMeta(key);
  }

  async get(url: string): Promise<UrlRecord | undefined> {
    const raw = (await this.run(GET_BY_URL, url)) as string | null;
    return raw === null ? undefined : (JSON.parse(raw) as UrlRecord);
  }

  async getById(id: number): Promise<UrlRecord | undefined> {
    return this.held.get(id) ?? this.records.byId(id);
  }

  async urlOf(id: number): Promise<string | undefined> {
    const known = this.urls.get(id);
    if (known !== undefined) return known;
    const url = (await this.records.byId(id))?.url;
    if (url !== undefined) this.urls.set(id, url);
    return url;
  }

  async linkTargets(urls: string[]): Promise<Map<string, LinkTarget>> {
    const targets = new Map<string, LinkTarget>();
    // One round trip a chunk (a page's links are one); chunks keep a huge link list off the call stack.
    for (let start = 0; start < urls.length; start += LINK_TARGETS_CHUNK) {
      const chunk = urls.slice(start, start + LINK_TARGETS_CHUNK);
      const raws = (await this.run(LINK_TARGETS, ...chunk)) as (string | null)[];
      chunk.forEach((url, index) => {
        const raw = raws[index];
        if (raw) targets.set(url, linkTargetOf(raw));
      });
    }
    return targets;
  }

  async enqueue(entry: NewUrl, maxPages: number, leased = false): Promise<number | 'max-pages' | undefined> {
    const limit = Number.isFinite(maxPages) ? maxPages : 'inf';
    const result = Number(await this.run(INSERT, entry.url, newRecordJson(entry, 'queued', null), leased ? '2' : '1', limit, this.leaseMs, this.worker));
    if (result > 0 && leased) this.leased.add(result);
    return result === -1 ? 'max-pages' : result === 0 ? undefined : result;
  }

  async recordSkip(entry: NewUrl, reason: SkipReason): Promise<void> {
    await this.run(INSERT, entry.url, newRecordJson(entry, 'skipped', reason), '0', 'inf');
  }

  async requeue(id: number, depth: number, kind: ReferenceKind): Promise<void> {
    await this.update(id, { state: 'queued', skip_reason: null, depth, kind });
  }

  async next(): Promise<QueuedUrl | undefined> {
    const raw = (await this.run(NEXT, this.leaseMs, this.worker)) as string | null;
    if (raw === null) return undefined;
    const record = JSON.parse(raw) as UrlRecord;
    this.leased.add(record.id);
    this.held.set(record.id, Object.freeze(record));
    this.urls.set(record.id, record.url);
    return { id: record.id, url: record.url, kind: record.kind, depth: record.depth };
  }

  async claim(id: number): Promise<boolean> {
    const claimed = Number(await this.run(CLAIM, id, this.leaseMs, this.worker)) === 1;
    if (claimed) this.leased.add(id);
    return claimed;
  }

  async release(id: number): Promise<void> {
    this.leased.delete(id);
    this.held.delete(id);
    await this.run(RELEASE, id, this.worker);
  }

  async busyElsewhere(): Promise<boolean> {
    return Number(await this.run(REAP)) > 0;
  }

  async reloadQueue(): Promise<void> {
    // The queue lives in Redis: nothing is cached here.
  }

  async update(id: number, fields: Partial<Omit<UrlRecord, 'id' | 'url'>>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    const json = JSON.stringify(fields);
    await this.run(UPDATE, id, json);
    const held = this.held.get(id);
    // As the script merges them: through JSON, so a field given as undefined is left alone there too.
    if (held !== undefined) this.held.set(id, Object.freeze({ ...held, ...(JSON.parse(json) as typeof fields) }));
  }

  async claimPath(path: string, urlId: number, bodyHash: string | null): Promise<boolean> {
    const owned = Number(await this.run(CLAIM_PATH, pathKey(path), urlId, path, bodyHash ?? '')) === 1;
    const held = this.held.get(urlId);
    // As the script records them with the path.
    if (owned && (bodyHash ?? '') !== '' && held !== undefined) this.held.set(urlId, Object.freeze({ ...held, sha256: bodyHash, own_path: path }));
    return owned;
  }

  async transferPath(path: string, urlId: number): Promise<void> {
    await this.redis.hset(`${this.prefix}paths`, pathKey(path), urlId);
  }

  async pathOwner(path: string): Promise<number | undefined> {
    const owner = await this.redis.hget(`${this.prefix}paths`, pathKey(path));
    return owner === null ? undefined : Number(owner);
  }

  async setLinks(fromId: number, links: Map<number, string | null>): Promise<void> {
    if (links.size === 0) await this.redis.hdel(`${this.prefix}links`, String(fromId));
    else await this.redis.hset(`${this.prefix}links`, String(fromId), JSON.stringify([...links]));
  }

  unsettledDocuments(): Promise<number[]> {
    return this.records.unsettledDocuments();
  }

  async countQueued(): Promise<number> {
    const [queuedPages, queuedRequisites, leased] = await Promise.all([
      this.redis.zcard(`${this.prefix}q:page`),
      this.redis.zcard(`${this.prefix}q:requisite`),
      this.redis.zcard(`${this.prefix}leases`),
    ]);
    return queuedPages + queuedRequisites + leased;
  }

  async countQueryVariants(prefix: string, atMost: number): Promise<number> {
    // Every URL is a member of one sorted set with score 0, so a prefix is a lexicographic range ('?' + 1 is '@').
    const count = await this.redis.zlexcount(`${this.prefix}urls`, `[${prefix}`, `(${prefix.slice(0, -1)}@`);
    return Math.min(count, atMost);
  }

  async requeueTransientFailures(inScope: ScopeTest): Promise<number> {
    let requeued = 0;
    for await (const record of this.records.each()) {
      if (record.state !== 'failed' || !isTransient(record) || !inScope(record.url, record.kind)) continue;
      await this.update(record.id, { state: 'queued', error_code: null, error_message: null, http_status: null });
      requeued++;
    }
    return requeued;
  }

  async requeueLimitSkips(): Promise<number> {
    // Nothing to lift: every run on a shared state has the options its crawl began with (recordOptions refuses a
    // different --max-pages or --depth), so what those limits skipped stays skipped.
    return 0;
  }

  async startRun(command: string): Promise<number> {
    const id = await this.redis.incr(`${this.prefix}runseq`);
    await this.redis.hset(`${this.prefix}runs`, String(id), JSON.stringify({ command, started_at: new Date().toISOString(), worker: this.worker }));
    return id;
  }

  async finishRun(runId: number, summary: unknown): Promise<void> {
    const run = JSON.parse((await this.redis.hget(`${this.prefix}runs`, String(runId))) ?? '{}') as object;
    await this.redis.hset(`${this.prefix}runs`, String(runId), JSON.stringify({ ...run, finished_at: new Date().toISOString(), summary }));
  }

  beginUpdate(): Promise<void> {
    return this.records.beginUpdate((id, fields) => this.update(id, fields));
  }

  previous(id: number): Promise<PreviousRecord | undefined> {
    return this.records.previous(id);
  }

  changes(): Promise<ChangeLists> {
    return this.records.changes();
  }

  commitUpdate(): Promise<void> {
    return this.records.commitUpdate();
  }

  rollbackUpdate(): Promise<void> {
    return this.records.rollbackUpdate();
  }

  tally(): Promise<StateTally> {
    return this.records.tally();
  }

  sharedFiles(): Promise<{ ownerId: number; aliasId: number }[]> {
    return this.records.sharedFiles();
  }

  async redirectedRecords(): Promise<UrlRecord[]> {
    const redirected: UrlRecord[] = [];
    for await (const record of this.records.each()) if (record.state === 'redirected') redirected.push(record);
    return redirected.sort((a, b) => a.id - b.id);
  }

  async *filesWritten(): AsyncGenerator<WrittenFile> {
    // Sorting needs them all, so only verify's fields of each are kept.
    const written: WrittenFile[] = [];
    for await (const { url, own_path, file_sha256, sha256, bytes, content_type } of this.records.each()) {
      if (own_path !== null && file_sha256 !== null) written.push({ url, own_path, file_sha256, sha256, bytes, content_type });
    }
    yield* written.sort((a, b) => (a.own_path < b.own_path ? -1 : a.own_path > b.own_path ? 1 : 0));
  }

  async mirroredPages(): Promise<{ url: string; title: string | null }[]> {
    const pages: { id: number; url: string; title: string | null }[] = [];
    for await (const record of this.records.each()) {
      if (record.state === 'done' && isHtmlType(record.content_type ?? '')) pages.push({ id: record.id, url: record.url, title: record.title });
    }
    return pages.sort((a, b) => a.id - b.id).map(({ url, title }) => ({ url, title }));
  }

  hostGate(options: HostLimiterOptions): HostGate {
    return new RedisHostLimiter(options, { redis: this.redis, prefix: this.prefix, slotMs: this.leaseMs, worker: this.worker });
  }

  async exclusively<T>(name: string, work: () => Promise<T>): Promise<{ value: T } | undefined> {
    const release = await this.hold(name);
    if (!release) return undefined;
    try {
      return { value: await work() };
    } finally {
      await release();
    }
  }

  /** Takes a named lock, kept alive while this worker lives; undefined when another worker holds it. */
  private async hold(name: string): Promise<(() => Promise<void>) | undefined> {
    if (Number(await this.run(LOCK, name, this.worker, this.leaseMs)) !== 1) {
      if ((await this.heldByLiveWorker(name)) || Number(await this.run(LOCK, name, this.worker, this.leaseMs)) !== 1) return undefined;
    }
    const keepAlive = setInterval(() => void this.run(LOCK, name, this.worker, this.leaseMs).catch(() => undefined), Math.max(50, Math.floor(this.leaseMs / 3)));
    keepAlive.unref();
    return async () => {
      clearInterval(keepAlive);
      await this.run(UNLOCK, name, this.worker);
    };
  }

  async close(): Promise<void> {
    clearInterval(this.renewal);
    try {
      // URLs this worker still holds go back to the frontier for the others at once, not after their lease.
      for (const id of [...this.leased]) await this.release(id);
      await this.updateLock?.();
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

/**
 * A link target from LINK_TARGETS: the array the scripts keep in P..'tgt' (id, state, skip_reason, local_path,
 * own_path, expected_path), or a whole record.
 */
function linkTargetOf(raw: string): LinkTarget {
  if (!raw.startsWith('[')) return JSON.parse(raw) as UrlRecord;
  const [id, state, skip_reason, local_path, own_path, expected_path] = JSON.parse(raw) as [number, UrlState, SkipReason | null, string | null, string | null, string];
  return { id, state, skip_reason, local_path, own_path, expected_path };
}

function newRecordJson(entry: NewUrl, state: 'queued' | 'skipped', skipReason: SkipReason | null): string {
  return JSON.stringify(newUrlRecord(entry, state, skipReason));
}

/** A failure that may pass: network, timeout, an unreadable robots.txt, 5xx, 408 or 429 (as the SQLite backend's query). */
export function isTransient(record: UrlRecord): boolean {
  if (['NETWORK', 'TIMEOUT', 'ROBOTS_UNAVAILABLE'].includes(record.error_code ?? '')) return true;
  const status = record.http_status ?? 0;
  return record.error_code === 'HTTP_STATUS' && (status >= 500 || status === 408 || status === 429);
}
