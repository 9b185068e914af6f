// Crawl state in SQLite (.sitemirror/state.db): one record per URL, the link graph, the path registry, runs.
// One process works on it (the mirror's lock file), so leases are an in-memory set and the queue a window onto the table.
import Database from 'better-sqlite3';
import { rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeDirs } from './dirs.js';
import { SitemirrorError } from './errors.js';
import { isHtmlType } from './documents.js';
import { acquireLock, type MirrorLock } from './lock.js';
import { HostLimiter, type HostGate, type HostLimiterOptions } from './politeness.js';
import { checkStateFormat, newUrlRecord, type ChangeLists, type CrawlState, type LinkTarget, type NewUrl, type PreviousRecord, type QueuedUrl, type ScopeTest, type StateLocation, type StateTally, type UrlRecord, type WrittenFile } from './state.js';
import { Lane } from './state-lane.js';
import { RecordCache } from './state-record-cache.js';
import { STATE_DIR } from './store.js';
import type { ReferenceKind, SkipReason } from './types.js';

/**
 * How long writes gather in one transaction before it commits. Each commit writes the B-tree pages it touched to the
 * WAL again: at 50 ms a 23-second crawl of 1,000 pages made 18,500 page writes against 10,600 for the same crawl in
 * 3 s; at 250 ms its CPU fell by a tenth (-c 5 at 50 ms, three alternated pairs).
 */
const BATCH_MS = 250;
/**
 * Room kept on the mirror's disk for the state's commits: a file of this size in the state folder, given back once
 * the disk has less than this free. A COMMIT that meets a full disk rolls its whole batch back (SQLite does so itself
 * on SQLITE_FULL), losing the records of files already written; the room lets the batches up to the full disk commit.
 */
const RESERVE_BYTES = 512 * 1024;
const RESERVE_FILE = 'state.reserve';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS urls (
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  expected TEXT NOT NULL,
  depth INTEGER NOT NULL,
  found_from INTEGER,
  state TEXT NOT NULL,
  skip_reason TEXT,
  http_status INTEGER,
  content_type TEXT,
  charset TEXT,
  etag TEXT,
  last_modified TEXT,
  sha256 TEXT,
  file_sha256 TEXT,
  bytes INTEGER,
  local_path TEXT,
  own_path TEXT,
  expected_path TEXT NOT NULL,
  redirect_to INTEGER,
  error_code TEXT,
  error_message TEXT,
  fetched_at TEXT,
  title TEXT
);
CREATE INDEX IF NOT EXISTS urls_queued ON urls (state, kind, depth, id);
CREATE TABLE IF NOT EXISTS links (
  from_id INTEGER NOT NULL,
  to_id INTEGER NOT NULL,
  assumed_path TEXT,
  PRIMARY KEY (from_id, to_id)
) WITHOUT ROWID;
-- links_to was an index no query used: each link row cost a second B-tree insert.
DROP INDEX IF EXISTS links_to;
-- The few links that did not assume their target's expected path (written absolute, or to another file): the final
-- settlement reads these without scanning every link.
CREATE INDEX IF NOT EXISTS links_unassumed ON links (to_id) WHERE assumed_path IS NOT '';
CREATE TABLE IF NOT EXISTS paths (path_key TEXT PRIMARY KEY, url_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  command TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  summary TEXT
);
`;

/**
 * A link's assumed_path when it is its target's expected_path, which a URL keeps for good: most links assume it
 * (a queued target, or a done one saved where expected), and a row without the path is a third of the bytes to
 * store and bind. No real path is empty, so rows written before this meant what they say.
 */
const ASSUMED_EXPECTED_PATH = '';

/** The path a link to the record t should hold now: state.ts's settledPath in SQL. */
const LINKABLE_PATH = `(CASE WHEN t.state IN ('done', 'redirected') THEN t.local_path WHEN t.state = 'removed' THEN t.own_path END)`;

/**
 * An update's copy of every record as it stood when the update began. In the database file, not a temporary table:
 * temporary storage is in memory (temp_store), and this holds a row per known URL; created inside the update's
 * transaction, so a dead update leaves no trace of it. Keyed by id: CREATE TABLE … AS SELECT makes no key, and every
 * lookup of a record's previous state was then a scan of the table, so an update's time grew with the square of the
 * mirror's size (10,000 pages: 55 s, 10–11 s keyed).
 */
export const PREVIOUS_TABLE = `CREATE TABLE main.previous (id INTEGER PRIMARY KEY, state TEXT, sha256 TEXT, own_path TEXT);
  INSERT INTO main.previous SELECT id, state, sha256, own_path FROM urls;`;
export const PREVIOUS_BY_ID = 'SELECT state, sha256, own_path FROM previous WHERE id = ?';

/** Rows per INSERT of links: pages have 20–60; a bigger one takes several (SQLite binds at most 32,766 values). */
const LINKS_PER_STATEMENT = 64;

/** Paths are compared case-folded, so a mirror copied to a case-insensitive disk never loses a file. */
export function pathKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

export async function openSqliteState(location: StateLocation): Promise<SqliteState> {
  const stateDir = join(location.outputDir, STATE_DIR);
  makeDirs(stateDir);
  const lock = location.purpose === 'verify' ? undefined : acquireLock(stateDir, location.purpose);
  let state: SqliteState;
  try {
    state = new SqliteState(stateDir, lock, location.purpose !== 'verify');
  } catch (error) {
    lock?.release();
    throw error;
  }
  try {
    await checkStateFormat(state, location.purpose);
  } catch (error) {
    await state.close();
    throw error;
  }
  return state;
}

/** A URL that may go back in the frontier, with what the scope test needs. */
type Candidate = { id: number; url: string; kind: ReferenceKind };

export class SqliteState implements CrawlState {
  readonly shared = false;
  readonly location: string;
  private readonly db: Database.Database;
  private readonly statements;
  private readonly updateStatements = new Map<string, Database.Statement>();
  /** INSERTs of n links at once (n ≤ LINKS_PER_STATEMENT), made when first needed. */
  private readonly linkInserts = new Map<number, Database.Statement>();
  private batchOpen = false;
  private batchFailure: unknown;
  private previousStatement: Database.Statement<[number], PreviousRecord> | undefined;
  private readonly lanes: Record<ReferenceKind, Lane>;
  /** URLs leased to this process's workers. */
  private readonly leased = new Set<number>();
  /** Pages counted against --max-pages (queued, done, redirected or failed). */
  private pageCount: number;
  /** Recently used records, so a known URL offered again costs no SELECT. */
  private readonly records = new RecordCache();
  /**
   * sha256 and own_path recorded with a claimed path but not yet in the row: the row's next UPDATE (the fetch's
   * outcome, a few turns later) writes them with its own fields, one row rewrite a file instead of two. Reads see
   * them at once; the batch's commit and every query that reads those columns write them first.
   */
  private readonly unwrittenClaims = new Map<number, { sha256: string; own_path: string }>();

  /**
   * A page's link rows replaced by these (from, to, assumed path) triples, all or nothing: made once, since
   * better-sqlite3 builds four wrappers and their properties for every transaction function it makes.
   */
  private readonly replaceLinks: (fromId: number, values: (number | string | null)[]) => void;

  /** The room kept for commits (see RESERVE_BYTES), or undefined for a state that only reads. */
  private readonly reservePath: string | undefined;

  constructor(stateDir: string, private readonly lock: MirrorLock | undefined, writes = true) {
    this.location = join(stateDir, 'state.db');
    this.reservePath = writes ? join(stateDir, RESERVE_FILE) : undefined;
    this.holdReserve();
    try {
      this.db = new Database(this.location);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      // Statement journals of nested transactions in memory, not in a temporary file each (77,000 writes a crawl of 1,000 pages).
      this.db.pragma('temp_store = MEMORY');
      this.db.exec(SCHEMA);
    } catch (error) {
      throw new SitemirrorError('STATE', `cannot open the crawl state in ${stateDir}: ${(error as Error).message}`, { cause: error });
    }
    const db = this.db;
    this.statements = {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      byUrl: db.prepare<[string], UrlRecord>('SELECT * FROM urls WHERE url = ?'),
      byId: db.prepare<[number], UrlRecord>('SELECT * FROM urls WHERE id = ?'),
      stateById: db.prepare<[number], { state: string }>('SELECT state FROM urls WHERE id = ?'),
      insert: db.prepare(
        `INSERT INTO urls (url, kind, expected, depth, found_from, state, expected_path) VALUES (@url, @kind, @expected, @depth, @foundFrom, 'queued', @expectedPath) ON CONFLICT (url) DO NOTHING`,
      ),
      insertSkipped: db.prepare(
        `INSERT INTO urls (url, kind, expected, depth, found_from, state, skip_reason, expected_path) VALUES (@url, @kind, @expected, @depth, @foundFrom, 'skipped', @reason, @expectedPath) ON CONFLICT (url) DO NOTHING`,
      ),
      requeue: db.prepare(`UPDATE urls SET state = 'queued', skip_reason = NULL, depth = @depth, kind = @kind WHERE id = @id`),
      queuedBatch: db.prepare<[string, number], QueuedUrl>(`SELECT id, url, kind, depth FROM urls WHERE state = 'queued' AND kind = ? ORDER BY depth, id LIMIT ?`),
      claimPath: db.prepare('INSERT INTO paths (path_key, url_id) VALUES (?, ?) ON CONFLICT (path_key) DO NOTHING'),
      writeClaim: db.prepare<[string, string, number]>('UPDATE urls SET sha256 = ?, own_path = ? WHERE id = ?'),
      pathOwner: db.prepare<[string], { url_id: number }>('SELECT url_id FROM paths WHERE path_key = ?'),
      transferPath: db.prepare('UPDATE paths SET url_id = ? WHERE path_key = ?'),
      clearLinks: db.prepare('DELETE FROM links WHERE from_id = ?'),
      // A link is unsettled when the path it assumed is not the one its target's record gives now. Two cheap halves
      // instead of one join of every link with its target (17 ms for 1,000 pages and 9 s for 100,000, at the end
      // of every run): links that assumed another path than the expected one (few, through their index), and links
      // that assumed the expected path of a target that is not there (a scan of the links, only when such a target
      // exists).
      unsettledUnassumed: db.prepare<[], { from_id: number }>(
        `SELECT DISTINCT l.from_id FROM links l INDEXED BY links_unassumed JOIN urls t ON t.id = l.to_id
         WHERE l.assumed_path IS NOT '${ASSUMED_EXPECTED_PATH}' AND l.assumed_path IS NOT ${LINKABLE_PATH}`,
      ),
      anyNotWhereExpected: db.prepare<[], { found: number }>(`SELECT 1 AS found FROM urls t WHERE t.expected_path IS NOT ${LINKABLE_PATH} LIMIT 1`),
      unsettledExpected: db.prepare<[], { from_id: number }>(
        `SELECT DISTINCT from_id FROM links WHERE assumed_path = '${ASSUMED_EXPECTED_PATH}'
         AND to_id IN (SELECT id FROM urls t WHERE t.expected_path IS NOT ${LINKABLE_PATH})`,
      ),
      countQueued: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM urls WHERE state = 'queued'`),
      countPagesQueuedOrDone: db.prepare<[], { n: number }>(
        `SELECT count(*) AS n FROM urls WHERE kind = 'page' AND state IN ('queued', 'done', 'redirected', 'failed')`,
      ),
      // A range on the url index: every URL that starts with the prefix ('?' + 1 is '@'), counted up to a limit.
      countPrefixed: db.prepare<[string, string, number], { n: number }>(`SELECT count(*) AS n FROM (SELECT 1 FROM urls WHERE url >= ? AND url < ? LIMIT ?)`),
      transientFailures: db.prepare<[], Candidate>(
        `SELECT id, url, kind FROM urls WHERE state = 'failed'
         AND (error_code IN ('NETWORK', 'TIMEOUT', 'ROBOTS_UNAVAILABLE') OR (error_code = 'HTTP_STATUS' AND (http_status >= 500 OR http_status IN (408, 429))))`,
      ),
      requeueFailed: db.prepare<[number]>(`UPDATE urls SET state = 'queued', error_code = NULL, error_message = NULL, http_status = NULL WHERE id = ?`),
      limitSkips: db.prepare<[number], Candidate>(
        `SELECT id, url, kind FROM urls WHERE state = 'skipped' AND skip_reason IN ('depth', 'max-pages') AND kind = 'page' AND depth <= ?
         ORDER BY depth, id`,
      ),
      requeueSkipped: db.prepare<[number]>(`UPDATE urls SET state = 'queued', skip_reason = NULL WHERE id = ?`),
      startRun: db.prepare(`INSERT INTO runs (command, started_at) VALUES (?, ?)`),
      finishRun: db.prepare(`UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?`),
    };
    this.replaceLinks = db.transaction((fromId: number, values: (number | string | null)[]) => {
      this.statements.clearLinks.run(fromId);
      const perStatement = 3 * LINKS_PER_STATEMENT;
      // Most pages fit one INSERT: their values as they are, without a copy.
      if (values.length <= perStatement) {
        if (values.length > 0) this.linkInsert(values.length / 3).run(values);
        return;
      }
      for (let start = 0; start < values.length; start += perStatement) {
        const chunk = values.slice(start, start + perStatement);
        this.linkInsert(chunk.length / 3).run(chunk);
      }
    });
    this.pageCount = this.statements.countPagesQueuedOrDone.get()?.n ?? 0;
    const load = (kind: ReferenceKind, limit: number) => this.statements.queuedBatch.all(kind, limit);
    this.lanes = { requisite: new Lane('requisite', load), page: new Lane('page', load) };
  }

  /**
   * Groups the writes of one turn of the event loop into one transaction (a page's ~50 offers and its records): a
   * commit per statement costs more than the statements. A crash loses at most that turn's writes, which leaves the
   * state as it stood a moment earlier (files are written after their records' claims and before 'done').
   */
  private batch(): void {
    // A batch that could not be committed (a full disk) fails every later write, so the crawl stops on it.
    if (this.batchFailure !== undefined) throw this.batchFailure;
    if (this.batchOpen || this.db.inTransaction) return;
    this.db.exec('BEGIN');
    this.batchOpen = true;
    // One commit per BATCH_MS rather than per turn of the event loop: a page's dozens of small writes are spread
    // over many turns. A crash loses at most that much of the record; a resume fetches those URLs again.
    setTimeout(() => this.commitBatch(), BATCH_MS).unref();
  }

  private commitBatch(): void {
    if (!this.batchOpen) return;
    this.batchOpen = false;
    try {
      this.writeClaims();
      this.commit();
    } catch (error) {
      this.batchFailure = error;
      this.records.clear();
      this.unwrittenClaims.clear();
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    }
  }

  /** Writes the claims' sha256 and own_path that no UPDATE of their rows has carried yet (see unwrittenClaims). */
  private writeClaims(): void {
    if (this.unwrittenClaims.size === 0) return;
    for (const [id, claim] of this.unwrittenClaims) this.statements.writeClaim.run(claim.sha256, claim.own_path, id);
    this.unwrittenClaims.clear();
  }

  /** COMMIT, giving the reserved room back first when the disk is nearly full (one statfs per commit). */
  private commit(): void {
    if (!this.db.inTransaction) return;
    if (this.reservePath !== undefined && this.freeBytes() < RESERVE_BYTES) this.releaseReserve();
    this.db.exec('COMMIT');
  }

  private freeBytes(): number {
    try {
      const disk = statfsSync(dirname(this.location));
      return disk.bavail * disk.bsize;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /** Sets the room aside; without room for it the state does without (the next open tries again). */
  private holdReserve(): void {
    if (this.reservePath === undefined) return;
    try {
      if (statSync(this.reservePath, { throwIfNoEntry: false })?.size !== RESERVE_BYTES) writeFileSync(this.reservePath, Buffer.alloc(RESERVE_BYTES));
    } catch {
      rmSync(this.reservePath, { force: true });
    }
  }

  /** Gives the room back to the disk; false when there was none held. */
  private releaseReserve(): boolean {
    if (this.reservePath === undefined || statSync(this.reservePath, { throwIfNoEntry: false }) === undefined) return false;
    rmSync(this.reservePath, { force: true });
    return true;
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.statements.getMeta.get(key)?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.batch();
    this.statements.setMeta.run(key, value);
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string | undefined> {
    const before = this.statements.getMeta.get(key)?.value;
    this.batch();
    if (before === undefined) this.statements.setMeta.run(key, value);
    return before;
  }

  async get(url: string): Promise<UrlRecord | undefined> {
    return this.recordByUrl(url);
  }

  async getById(id: number): Promise<UrlRecord | undefined> {
    return this.recordById(id);
  }

  async urlOf(id: number): Promise<string | undefined> {
    return this.recordById(id)?.url;
  }

  private recordByUrl(url: string): UrlRecord | undefined {
    const cached = this.records.get(url);
    if (cached !== undefined) return cached;
    const row = this.statements.byUrl.get(url);
    return row === undefined ? undefined : this.records.put(this.withClaim(row));
  }

  private recordById(id: number): UrlRecord | undefined {
    const cached = this.records.getById(id);
    if (cached !== undefined) return cached;
    const row = this.statements.byId.get(id);
    return row === undefined ? undefined : this.records.put(this.withClaim(row));
  }

  /** A row as read from the table, with a claim its row does not hold yet. */
  private withClaim(row: UrlRecord): UrlRecord {
    const claim = this.unwrittenClaims.get(row.id);
    return claim === undefined ? row : { ...row, ...claim };
  }

  async linkTargets(urls: string[]): Promise<Map<string, LinkTarget>> {
    const targets = new Map<string, LinkTarget>();
    for (const url of urls) {
      const target = this.recordByUrl(url);
      if (target) targets.set(url, target);
    }
    return targets;
  }

  async enqueue(entry: NewUrl, maxPages: number, leased = false): Promise<number | 'max-pages' | undefined> {
    if (entry.kind === 'page' && this.pageCount >= maxPages) return 'max-pages';
    this.batch();
    const result = this.statements.insert.run(entry);
    if (result.changes === 0) return undefined;
    const id = Number(result.lastInsertRowid);
    this.records.put(newRecord(id, entry, 'queued', null));
    if (entry.kind === 'page') this.pageCount++;
    if (leased) this.leased.add(id);
    else this.lanes[entry.kind].push({ id, url: entry.url, kind: entry.kind, depth: entry.depth });
    return id;
  }

  async recordSkip(entry: NewUrl, reason: SkipReason): Promise<void> {
    this.batch();
    const result = this.statements.insertSkipped.run({ ...entry, reason });
    if (result.changes === 1) this.records.put(newRecord(Number(result.lastInsertRowid), entry, 'skipped', reason));
  }

  async requeue(id: number, depth: number, kind: ReferenceKind): Promise<void> {
    this.batch();
    this.statements.requeue.run({ id, depth, kind });
    this.records.patch(id, { state: 'queued', skip_reason: null, depth, kind });
    const url = this.recordById(id)!.url;
    this.lanes[kind].push({ id, url, kind, depth });
  }

  async next(): Promise<QueuedUrl | undefined> {
    for (;;) {
      const item = this.lanes.requisite.shift() ?? this.lanes.page.shift();
      if (item === undefined) return undefined;
      // A URL can leave the queue by another route (a redirect landed on it); skip stale entries.
      if (this.claimNow(item.id)) return item;
    }
  }

  async claim(id: number): Promise<boolean> {
    return this.claimNow(id);
  }

  private claimNow(id: number): boolean {
    if (this.leased.has(id) || this.stateOf(id) !== 'queued') return false;
    this.leased.add(id);
    return true;
  }

  async release(id: number): Promise<void> {
    if (!this.leased.delete(id)) return;
    // Let go unfinished (the crawl stopped, or its worker gave it back): it waits in the frontier again.
    const record = this.stateOf(id) === 'queued' ? this.recordById(id) : undefined;
    if (record) this.lanes[record.kind].push({ id, url: record.url, kind: record.kind, depth: record.depth });
  }

  private stateOf(id: number): string | undefined {
    return (this.records.getById(id) ?? this.statements.stateById.get(id))?.state;
  }

  async busyElsewhere(): Promise<boolean> {
    return false;
  }

  async reloadQueue(): Promise<void> {
    this.pageCount = this.statements.countPagesQueuedOrDone.get()?.n ?? 0;
    this.lanes.requisite.invalidate();
    this.lanes.page.invalidate();
  }

  async update(id: number, changes: Partial<Omit<UrlRecord, 'id' | 'url'>>): Promise<void> {
    let fields = changes;
    const claim = this.unwrittenClaims.get(id);
    if (claim !== undefined) {
      this.unwrittenClaims.delete(id);
      // The outcome names both itself (own_path null for an alias sharing a file): nothing of the claim to add.
      if (!('sha256' in fields && 'own_path' in fields)) fields = { ...claim, ...fields };
    }
    const names = Object.keys(fields) as (keyof typeof fields)[];
    if (names.length === 0) return;
    // Preparing is most of the cost of a small UPDATE; the crawl uses a dozen shapes of field lists over and over.
    // Keyed by the names alone and bound by position: building the whole SQL text and binding by name cost more.
    const shape = names.join();
    let statement = this.updateStatements.get(shape);
    if (!statement) this.updateStatements.set(shape, (statement = this.db.prepare(`UPDATE urls SET ${names.map((name) => `${name} = ?`).join(', ')} WHERE id = ?`)));
    const values: unknown[] = [];
    for (const name of names) values.push(fields[name]);
    values.push(id);
    this.batch();
    statement.run(values);
    this.records.patch(id, fields);
  }

  async claimPath(path: string, urlId: number, bodyHash: string | null): Promise<boolean> {
    const key = pathKey(path);
    this.batch();
    // A new row is this URL's claim; only a path claimed before (by this URL in an earlier run, or another) needs its owner read.
    const inserted = this.statements.claimPath.run(key, urlId).changes === 1;
    const claimed = inserted || this.statements.pathOwner.get(key)?.url_id === urlId;
    if (claimed && bodyHash !== null) {
      const claim = { sha256: bodyHash, own_path: path };
      this.unwrittenClaims.set(urlId, claim);
      this.records.patch(urlId, claim);
    }
    return claimed;
  }

  async transferPath(path: string, urlId: number): Promise<void> {
    this.batch();
    this.statements.transferPath.run(urlId, pathKey(path));
  }

  async pathOwner(path: string): Promise<number | undefined> {
    return this.statements.pathOwner.get(pathKey(path))?.url_id;
  }

  async setLinks(fromId: number, links: Map<number, string | null>): Promise<void> {
    this.batch();
    // A page's links in a few multi-row INSERTs, values bound: a third less time than one statement reading them
    // from JSON (json_each), half of one statement per link.
    const values = new Array<number | string | null>(3 * links.size);
    let at = 0;
    for (const [toId, assumedPath] of links) {
      values[at++] = fromId;
      values[at++] = toId;
      values[at++] = assumedPath !== null && assumedPath === this.records.getById(toId)?.expected_path ? ASSUMED_EXPECTED_PATH : assumedPath;
    }
    this.replaceLinks(fromId, values);
  }

  private linkInsert(count: number): Database.Statement {
    let statement = this.linkInserts.get(count);
    if (statement === undefined) {
      const rows = Array.from({ length: count }, () => '(?, ?, ?)').join(', ');
      statement = this.db.prepare(`INSERT INTO links (from_id, to_id, assumed_path) VALUES ${rows} ON CONFLICT DO UPDATE SET assumed_path = excluded.assumed_path`);
      this.linkInserts.set(count, statement);
    }
    return statement;
  }

  async unsettledDocuments(): Promise<number[]> {
    this.writeClaims();
    const documents = new Set(this.statements.unsettledUnassumed.all().map((row) => row.from_id));
    if (this.statements.anyNotWhereExpected.get() !== undefined) {
      for (const row of this.statements.unsettledExpected.all()) documents.add(row.from_id);
    }
    return [...documents].sort((a, b) => a - b);
  }

  async countQueued(): Promise<number> {
    return this.statements.countQueued.get()?.n ?? 0;
  }

  async countQueryVariants(prefix: string, atMost: number): Promise<number> {
    return this.statements.countPrefixed.get(prefix, `${prefix.slice(0, -1)}@`, atMost)?.n ?? 0;
  }

  async requeueTransientFailures(inScope: ScopeTest): Promise<number> {
    const failed = this.statements.transientFailures.all().filter((row) => inScope(row.url, row.kind));
    return this.requeueRows(failed, this.statements.requeueFailed);
  }

  async requeueLimitSkips(limits: { maxPages: number; depth: number }, inScope: ScopeTest): Promise<number> {
    const pages = this.statements.countPagesQueuedOrDone.get()?.n ?? 0;
    const room = limits.maxPages - pages;
    if (room <= 0) return 0;
    const skipped: Candidate[] = [];
    // Breadth first, as the query orders them, until the page limit is met (Infinity: never).
    for (const row of this.statements.limitSkips.iterate(Math.min(limits.depth, Number.MAX_SAFE_INTEGER))) {
      if (skipped.length >= room) break;
      if (inScope(row.url, row.kind)) skipped.push(row);
    }
    return this.requeueRows(skipped, this.statements.requeueSkipped);
  }

  private requeueRows(rows: readonly Candidate[], requeue: Database.Statement<[number]>): number {
    if (rows.length === 0) return 0;
    this.records.clear();
    this.db.transaction(() => {
      for (const row of rows) requeue.run(row.id);
    })();
    // The lanes and the page count are read again by reloadQueue, which the crawl calls next.
    return rows.length;
  }

  async startRun(command: string): Promise<number> {
    return Number(this.statements.startRun.run(command, new Date().toISOString()).lastInsertRowid);
  }

  async finishRun(runId: number, summary: unknown): Promise<void> {
    this.statements.finishRun.run(new Date().toISOString(), JSON.stringify(summary), runId);
  }

  /**
   * An update runs inside one long transaction (rolled back if the run dies, so a failed update leaves the state
   * as it was): each record is remembered as it stands, then every URL the mirror knows goes back in the frontier.
   */
  async beginUpdate(): Promise<void> {
    this.commitBatch();
    this.records.clear();
    this.db.exec('BEGIN IMMEDIATE');
    this.db.exec(`DROP TABLE IF EXISTS temp.previous;
      DROP TABLE IF EXISTS main.previous;
      ${PREVIOUS_TABLE}
      UPDATE urls SET state = 'queued' WHERE state IN ('done', 'failed', 'redirected', 'removed') OR (state = 'skipped' AND skip_reason = 'robots');`);
  }

  async previous(id: number): Promise<PreviousRecord | undefined> {
    // The table exists only during an update.
    this.previousStatement ??= this.db.prepare<[number], PreviousRecord>(PREVIOUS_BY_ID);
    return this.previousStatement.get(id);
  }

  async changes(): Promise<ChangeLists> {
    this.writeClaims();
    type Row = { url: string; path: string | null };
    const rows = (where: string) =>
      this.db.prepare<[], Row>(`SELECT u.url, coalesce(u.own_path, u.local_path, p.own_path) AS path FROM urls u LEFT JOIN previous p ON p.id = u.id WHERE ${where} ORDER BY u.url`).all();
    return {
      added: rows(`u.state = 'done' AND (p.id IS NULL OR p.state <> 'done')`),
      changed: rows(`u.state = 'done' AND p.state = 'done' AND u.sha256 IS NOT p.sha256`),
      removed: rows(`u.state = 'removed' AND p.state = 'done'`),
      unchanged: this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM urls u JOIN previous p ON p.id = u.id WHERE u.state = 'done' AND p.state = 'done' AND u.sha256 IS p.sha256`).get()!.n,
    };
  }

  async commitUpdate(): Promise<void> {
    if (this.db.inTransaction) this.db.exec('DROP TABLE IF EXISTS main.previous; COMMIT');
  }

  async rollbackUpdate(): Promise<void> {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.records.clear();
    this.unwrittenClaims.clear();
  }

  async tally(): Promise<StateTally> {
    const counts = this.db
      .prepare<[], { files: number; bytes: number; pages: number }>(
        `SELECT count(*) AS files, coalesce(sum(bytes), 0) AS bytes, coalesce(sum(content_type IN ('text/html', 'application/xhtml+xml')), 0) AS pages FROM urls WHERE state = 'done'`,
      )
      .get()!;
    const skipped: Partial<Record<SkipReason, number>> = {};
    const rows = this.db.prepare<[], { reason: SkipReason; n: number }>(`SELECT skip_reason AS reason, count(*) AS n FROM urls WHERE state = 'skipped' GROUP BY skip_reason`).all();
    for (const row of rows) skipped[row.reason] = row.n;
    const redirects = this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM urls WHERE state = 'redirected'`).get()!.n;
    return { ...counts, redirects, skipped };
  }

  async sharedFiles(): Promise<{ ownerId: number; aliasId: number }[]> {
    this.writeClaims();
    return this.db
      .prepare<[], { ownerId: number; aliasId: number }>(
        `SELECT o.id AS ownerId, a.id AS aliasId FROM urls a JOIN urls o ON o.own_path = a.local_path AND o.id <> a.id
         WHERE a.state = 'done' AND a.own_path IS NULL AND o.state = 'done' ORDER BY o.id, a.id`,
      )
      .all();
  }

  async redirectedRecords(): Promise<UrlRecord[]> {
    this.writeClaims();
    return this.db.prepare<[], UrlRecord>(`SELECT * FROM urls WHERE state = 'redirected' ORDER BY id`).all();
  }

  async *filesWritten(): AsyncGenerator<WrittenFile> {
    this.writeClaims();
    yield* this.db
      .prepare<[], WrittenFile>(`SELECT url, own_path, file_sha256, sha256, bytes, content_type FROM urls WHERE own_path IS NOT NULL AND file_sha256 IS NOT NULL ORDER BY own_path`)
      .iterate();
  }

  async mirroredPages(): Promise<{ url: string; title: string | null }[]> {
    const done = this.db.prepare<[], { url: string; title: string | null; content_type: string | null }>(
      `SELECT url, title, content_type FROM urls WHERE state = 'done' ORDER BY id`,
    );
    return done.all().flatMap((page) => (isHtmlType(page.content_type ?? '') ? [{ url: page.url, title: page.title }] : []));
  }

  hostGate(options: HostLimiterOptions): HostGate {
    return new HostLimiter(options);
  }

  async exclusively<T>(_name: string, work: () => Promise<T>): Promise<{ value: T }> {
    // The mirror's lock file already makes this process the only writer.
    return { value: await work() };
  }

  async close(): Promise<void> {
    // The last commit never needs the room kept for it afterwards; the next open sets it aside again.
    this.releaseReserve();
    this.commitBatch();
    this.db.close();
    this.lock?.release();
  }
}


/** The row an INSERT of a new URL creates, as SELECT * would read it back (columns in the schema's order). */
function newRecord(id: number, entry: NewUrl, state: 'queued' | 'skipped', reason: SkipReason | null): UrlRecord {
  return { id, ...newUrlRecord(entry, state, reason) };
}
