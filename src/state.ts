// The crawl state's contract: one interface, two backends (SQLite in .sitemirror/state.db, or Redis for many workers).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SitemirrorError } from './errors.js';
import type { HostGate, HostLimiterOptions } from './politeness.js';
import { STATE_DIR } from './store.js';
import type { ExpectedType, ReferenceKind, SkipReason } from './types.js';

/** 'removed': the origin answered 404/410 to an update for a URL the mirror held, so its file was taken out. */
export type UrlState = 'queued' | 'done' | 'failed' | 'skipped' | 'redirected' | 'removed';

/** Whether a URL, found as this kind of link, belongs to the crawl running now (see Scope). */
export type ScopeTest = (url: string, kind: ReferenceKind) => boolean;

/** What an update changed, by URL (the origin's bytes, not our rewriting, decide "changed"). */
export interface ChangeLists {
  added: { url: string; path: string | null }[];
  changed: { url: string; path: string | null }[];
  removed: { url: string; path: string | null }[];
  unchanged: number;
}

export interface UrlRecord {
  id: number;
  url: string;
  kind: ReferenceKind;
  expected: ExpectedType;
  depth: number;
  found_from: number | null;
  state: UrlState;
  skip_reason: SkipReason | null;
  http_status: number | null;
  content_type: string | null;
  /** The charset the origin declared in Content-Type, to decode the kept raw body the same way later. */
  charset: string | null;
  etag: string | null;
  last_modified: string | null;
  /** sha256 of the origin body. */
  sha256: string | null;
  /** sha256 of the file written to the mirror (after rewriting). */
  file_sha256: string | null;
  bytes: number | null;
  /** Where links to this URL point: its own file, or its redirect target's. */
  local_path: string | null;
  /** The file this URL itself owns (its body, or a redirect file). */
  own_path: string | null;
  expected_path: string;
  redirect_to: number | null;
  /** Why a 'failed' URL failed; on a 'done' URL, its file is a kept error page (--keep-error-pages). */
  error_code: string | null;
  error_message: string | null;
  fetched_at: string | null;
  title: string | null;
}

export type LinkTarget = Pick<UrlRecord, 'id' | 'state' | 'skip_reason' | 'local_path' | 'own_path' | 'expected_path'>;

/**
 * Where a link to a record points once its fate is known: the file it landed in (a redirect's, its target's), a
 * removed URL's old file, else nowhere (the origin). The SQLite backend's settlement query says the same in SQL.
 */
export function settledPath(target: Pick<UrlRecord, 'state' | 'local_path' | 'own_path'>): string | null {
  if (target.state === 'done' || target.state === 'redirected') return target.local_path;
  if (target.state === 'removed') return target.own_path;
  return null;
}

export interface NewUrl {
  url: string;
  kind: ReferenceKind;
  expected: ExpectedType;
  depth: number;
  foundFrom: number | null;
  expectedPath: string;
}

/** A file the mirror holds, with what verify needs to check it: only these fields, so a large mirror's are not all held at once. */
export type WrittenFile = Pick<UrlRecord, 'url' | 'sha256' | 'bytes' | 'content_type'> & { own_path: string; file_sha256: string };

/** The record a new URL starts with, before anything is known of it but how it was found (both backends store this). */
export function newUrlRecord(entry: NewUrl, state: 'queued' | 'skipped', skipReason: SkipReason | null): Omit<UrlRecord, 'id'> {
  return {
    url: entry.url,
    kind: entry.kind,
    expected: entry.expected,
    depth: entry.depth,
    found_from: entry.foundFrom,
    state,
    skip_reason: skipReason,
    http_status: null,
    content_type: null,
    charset: null,
    etag: null,
    last_modified: null,
    sha256: null,
    file_sha256: null,
    bytes: null,
    local_path: null,
    own_path: null,
    expected_path: entry.expectedPath,
    redirect_to: null,
    error_code: null,
    error_message: null,
    fetched_at: null,
    title: null,
  };
}

/** A queued URL handed to one worker. */
export interface QueuedUrl {
  id: number;
  url: string;
  kind: ReferenceKind;
  depth: number;
}

export type PreviousRecord = Pick<UrlRecord, 'state' | 'sha256' | 'own_path'>;

/** Totals of a crawl for its summary. */
export interface StateTally {
  files: number;
  bytes: number;
  pages: number;
  redirects: number;
  skipped: Partial<Record<SkipReason, number>>;
}

/**
 * The crawl state. Lifecycle of a URL: enqueue (or recordSkip) → next()/claim() leases it to this worker →
 * update() records its outcome → release() ends the lease (a URL released while still 'queued' goes back to the
 * frontier). With a shared backend, a lease left by a dead worker expires and the URL returns to the frontier.
 */
export interface CrawlState {
  /** Other processes may work on this state at the same time (Redis). */
  readonly shared: boolean;
  /** Where the state lives, for messages. */
  readonly location: string;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /** Stores the value unless the key has one; returns the value that was there before (undefined if none). */
  setMetaIfAbsent(key: string, value: string): Promise<string | undefined>;
  get(url: string): Promise<UrlRecord | undefined>;
  getById(id: number): Promise<UrlRecord | undefined>;
  /** The URL of a record (a referer): an id's URL never changes, so a backend may answer from memory. */
  urlOf(id: number): Promise<string | undefined>;
  /** What rewriting a link needs to know of each target, for a document's links at once (absent URLs left out). */
  linkTargets(urls: string[]): Promise<Map<string, LinkTarget>>;
  /**
   * Adds a URL to the frontier unless it is known: its id when added, 'max-pages' when it is a page and `maxPages`
   * pages are already counted (then nothing is stored), undefined when it was known. `leased`: the new URL is
   * leased to this worker in the same step (it has its bytes already), so no other worker takes it meanwhile.
   */
  enqueue(entry: NewUrl, maxPages: number, leased?: boolean): Promise<number | 'max-pages' | undefined>;
  recordSkip(entry: NewUrl, reason: SkipReason): Promise<void>;
  /** Puts a skipped URL back in the frontier (it was found again by a shorter path). */
  requeue(id: number, depth: number, kind: ReferenceKind): Promise<void>;
  /** Leases the next queued URL to this worker (requisites first, then breadth first); undefined when none is free. */
  next(): Promise<QueuedUrl | undefined>;
  /** Leases one queued URL; false when it is not queued or already leased. */
  claim(id: number): Promise<boolean>;
  /** Ends this worker's lease on a URL. */
  release(id: number): Promise<void>;
  /** Other workers hold leases (their URLs may still add to the frontier); expired leases are returned first. */
  busyElsewhere(): Promise<boolean>;
  /** Forgets any cached view of the queue (after many URLs were put back at once). */
  reloadQueue(): Promise<void>;
  update(id: number, fields: Partial<Omit<UrlRecord, 'id' | 'url'>>): Promise<void>;
  /**
   * Gives `path` to the URL (compared case-folded) unless another URL owns it; with a body hash, the URL's
   * own_path and sha256 are recorded in the same step, so an alias with the same bytes sees them at once.
   */
  claimPath(path: string, urlId: number, bodyHash: string | null): Promise<boolean>;
  /** Hands a path that is already claimed to another URL (an alias that names the shared file). */
  transferPath(path: string, urlId: number): Promise<void>;
  pathOwner(path: string): Promise<number | undefined>;
  /** Replaces a document's outgoing links with the ones it was just written with (target id → path assumed). */
  setLinks(fromId: number, links: Map<number, string | null>): Promise<void>;
  /** Documents written with a link whose target later landed elsewhere, failed, or was skipped. */
  unsettledDocuments(): Promise<number[]>;
  /** URLs queued or leased. */
  countQueued(): Promise<number>;
  /** How many known URLs start with `prefix` (which must end in '?'), counting at most `atMost`. */
  countQueryVariants(prefix: string, atMost: number): Promise<number>;
  /**
   * Puts URLs that failed for a reason that may pass (network, timeout, 5xx, 408, 429) back in the frontier, those
   * `inScope` accepts: a mirror may hold other seeds' URLs, which this crawl leaves alone.
   */
  requeueTransientFailures(inScope: ScopeTest): Promise<number>;
  /**
   * Puts pages an earlier run skipped for --max-pages or --depth back in the frontier, as far as this run's limits
   * reach: those `inScope` accepts and at most `depth` deep, breadth first, while pages number fewer than
   * `maxPages`. So a rerun with a higher limit, or none, goes on where the lower one stopped.
   */
  requeueLimitSkips(limits: { maxPages: number; depth: number }, inScope: ScopeTest): Promise<number>;
  startRun(command: string): Promise<number>;
  finishRun(runId: number, summary: unknown): Promise<void>;
  /** Starts an update that can be rolled back as a whole; every URL the mirror knows goes back to the frontier. */
  beginUpdate(): Promise<void>;
  previous(id: number): Promise<PreviousRecord | undefined>;
  changes(): Promise<ChangeLists>;
  commitUpdate(): Promise<void>;
  rollbackUpdate(): Promise<void>;
  tally(): Promise<StateTally>;
  /** Pairs of a file's owner and an alias sharing it (same bytes), owners in id order. */
  sharedFiles(): Promise<{ ownerId: number; aliasId: number }[]>;
  redirectedRecords(): Promise<UrlRecord[]>;
  /** The files written to the mirror, in path order, one at a time (what verify checks). */
  filesWritten(): AsyncIterable<WrittenFile>;
  /** The HTML pages mirrored, in the order they were found (the WACZ's page list). */
  mirroredPages(): Promise<{ url: string; title: string | null }[]>;
  /** Per-host politeness for this state's workers: in-process, or held in the shared state across every worker. */
  hostGate(options: HostLimiterOptions): HostGate;
  /** Runs `work` while no other worker runs work under the same name; undefined when another holds it. */
  exclusively<T>(name: string, work: () => Promise<T>): Promise<{ value: T } | undefined>;
  close(): Promise<void>;
}

export interface StateLocation {
  /** The mirror folder. */
  outputDir: string;
  /** redis://host:port/db, or undefined for SQLite in the mirror's .sitemirror folder. */
  stateUrl: string | undefined;
  /** What the state is opened for: a crawl or update takes the writer's lock, verify reads. */
  purpose: 'crawl' | 'update' | 'verify';
  /** The crawl's seed: with the output folder, it names the crawl in a shared state. */
  seed?: string;
  /** How long a lease on a URL lasts without renewal (shared state). */
  leaseMs?: number;
}

/** The pointer a Redis-state mirror keeps in its folder, so update and verify find their state. */
export const STATE_POINTER = 'state.json';

/** The state URL a mirror folder records (its credentials left out), if it is kept on Redis. */
export function recordedStateUrl(outputDir: string): string | undefined {
  const file = join(outputDir, STATE_DIR, STATE_POINTER);
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url;
}

/**
 * The layout of the crawl state this sitemirror reads and writes, kept in the state's meta as `state-format`. Raise it
 * when older code would misread what this code writes: older code then refuses the state rather than spoil it (as a
 * Redis worker from before the link-target hash would write records whose targets newer workers read stale).
 */
export const STATE_FORMAT = 1;

/** Opens the state of a mirror on the backend its URL names (or the one the mirror folder records). */
export async function openState(location: StateLocation): Promise<CrawlState> {
  const stateUrl = location.stateUrl ?? recordedStateUrl(location.outputDir);
  if (stateUrl === undefined) {
    const { openSqliteState } = await import('./state-sqlite.js');
    return openSqliteState(location);
  }
  if (!/^rediss?:\/\//i.test(stateUrl)) {
    throw new SitemirrorError('USAGE', `--state must be a redis:// URL (or nothing for SQLite in the mirror folder), not ${stateUrl}`);
  }
  const { openRedisState } = await import('./state-redis.js');
  return openRedisState({ ...location, stateUrl });
}

/**
 * Refuses a state a newer sitemirror wrote; marks one this sitemirror writes (verify only reads, so marks nothing).
 * Each backend calls it as it opens a state, before it changes anything in it.
 */
export async function checkStateFormat(state: CrawlState, purpose: StateLocation['purpose']): Promise<void> {
  const raw = await state.getMeta('state-format');
  const stored = raw === undefined ? 0 : Number(raw);
  if (!Number.isInteger(stored) || stored > STATE_FORMAT) {
    throw new SitemirrorError('STATE', `the crawl state at ${state.location} was written by a newer sitemirror (state format ${raw}, this one reads up to ${STATE_FORMAT}): use that version or a later one`);
  }
  if (stored < STATE_FORMAT && purpose !== 'verify') await state.setMeta('state-format', String(STATE_FORMAT));
}

/** The options JSON a mirror folder was made with; throws a USAGE error when the folder holds no mirror. */
export async function readStoredOptionsJson(outputDir: string, stateUrl?: string): Promise<string> {
  const onRedis = (stateUrl ?? recordedStateUrl(outputDir)) !== undefined;
  if (!onRedis && !existsSync(join(outputDir, STATE_DIR, 'state.db'))) {
    throw new SitemirrorError('USAGE', `${outputDir} holds no sitemirror state (.sitemirror/state.db): not a mirror; make one with sitemirror crawl`);
  }
  const state = await openState({ outputDir, stateUrl, purpose: 'verify' });
  try {
    const options = await state.getMeta('options');
    if (options === undefined) throw new SitemirrorError('USAGE', `${outputDir} has no recorded crawl options: not a finished mirror`);
    return options;
  } finally {
    await state.close();
  }
}
