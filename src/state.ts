// Crawl state in SQLite (.sitemirror/state.db): one record per URL, the link graph, the path registry, runs.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SitemirrorError } from './errors.js';
import type { ExpectedType, ReferenceKind, SkipReason } from './types.js';

/** 'removed': the origin answered 404/410 to an update for a URL the mirror held, so its file was taken out. */
export type UrlState = 'queued' | 'done' | 'failed' | 'skipped' | 'redirected' | 'removed';

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

export type LinkTarget = Pick<UrlRecord, 'id' | 'state' | 'local_path' | 'own_path' | 'expected_path'>;

export interface NewUrl {
  url: string;
  kind: ReferenceKind;
  expected: ExpectedType;
  depth: number;
  foundFrom: number | null;
  expectedPath: string;
}

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
CREATE INDEX IF NOT EXISTS links_to ON links (to_id);
CREATE TABLE IF NOT EXISTS paths (path_key TEXT PRIMARY KEY, url_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  command TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  summary TEXT
);
`;

/** Paths are compared case-folded, so a mirror copied to a case-insensitive disk never loses a file. */
function pathKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

export class CrawlState {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly updateStatements = new Map<string, Database.Statement>();

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    try {
      this.db = new Database(join(stateDir, 'state.db'));
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
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
      linkTarget: db.prepare<[string], LinkTarget>('SELECT id, state, local_path, own_path, expected_path FROM urls WHERE url = ?'),
      insert: db.prepare(
        `INSERT INTO urls (url, kind, expected, depth, found_from, state, expected_path) VALUES (@url, @kind, @expected, @depth, @foundFrom, 'queued', @expectedPath) ON CONFLICT (url) DO NOTHING`,
      ),
      insertSkipped: db.prepare(
        `INSERT INTO urls (url, kind, expected, depth, found_from, state, skip_reason, expected_path) VALUES (@url, @kind, @expected, @depth, @foundFrom, 'skipped', @reason, @expectedPath) ON CONFLICT (url) DO NOTHING`,
      ),
      requeue: db.prepare(`UPDATE urls SET state = 'queued', skip_reason = NULL, depth = @depth, kind = @kind WHERE id = @id`),
      queuedBatch: db.prepare<[string, number], Pick<UrlRecord, 'id' | 'url' | 'kind' | 'depth'>>(
        `SELECT id, url, kind, depth FROM urls WHERE state = 'queued' AND kind = ? ORDER BY depth, id LIMIT ?`,
      ),
      claimPath: db.prepare('INSERT INTO paths (path_key, url_id) VALUES (?, ?) ON CONFLICT (path_key) DO NOTHING'),
      pathOwner: db.prepare<[string], { url_id: number }>('SELECT url_id FROM paths WHERE path_key = ?'),
      transferPath: db.prepare('UPDATE paths SET url_id = ? WHERE path_key = ?'),
      link: db.prepare('INSERT INTO links (from_id, to_id, assumed_path) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET assumed_path = excluded.assumed_path'),
      clearLinks: db.prepare('DELETE FROM links WHERE from_id = ?'),
      unsettled: db.prepare<[], { from_id: number }>(
        // The path a link should hold now, as the crawler's linkablePath computes it for a settled record.
        `SELECT DISTINCT l.from_id FROM links l JOIN urls t ON t.id = l.to_id
         WHERE l.assumed_path IS NOT (CASE WHEN t.state IN ('done', 'redirected') THEN t.local_path
                                           WHEN t.state = 'removed' THEN t.own_path END)`,
      ),
      countPagesQueuedOrDone: db.prepare<[], { n: number }>(
        `SELECT count(*) AS n FROM urls WHERE kind = 'page' AND state IN ('queued', 'done', 'redirected', 'failed')`,
      ),
      // A range on the url index: every URL that starts with the prefix ('?' + 1 is '@'), counted up to a limit.
      countPrefixed: db.prepare<[string, string, number], { n: number }>(`SELECT count(*) AS n FROM (SELECT 1 FROM urls WHERE url >= ? AND url < ? LIMIT ?)`),
      requeueTransient: db.prepare(
        `UPDATE urls SET state = 'queued', error_code = NULL, error_message = NULL, http_status = NULL WHERE state = 'failed'
         AND (error_code IN ('NETWORK', 'TIMEOUT', 'ROBOTS_UNAVAILABLE') OR (error_code = 'HTTP_STATUS' AND (http_status >= 500 OR http_status IN (408, 429))))`,
      ),
      startRun: db.prepare(`INSERT INTO runs (command, started_at) VALUES (?, ?)`),
      finishRun: db.prepare(`UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?`),
    };
  }

  getMeta(key: string): string | undefined {
    return this.statements.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.statements.setMeta.run(key, value);
  }

  get(url: string): UrlRecord | undefined {
    return this.statements.byUrl.get(url);
  }

  /** Just what rewriting a link needs to know of its target (read for every link of every page, so kept lean). */
  linkTarget(url: string): LinkTarget | undefined {
    return this.statements.linkTarget.get(url);
  }

  getById(id: number): UrlRecord | undefined {
    return this.statements.byId.get(id);
  }

  /** Adds a URL to the frontier unless it is known; returns its id when it was added. */
  enqueue(entry: NewUrl): number | undefined {
    const result = this.statements.insert.run(entry);
    return result.changes === 0 ? undefined : Number(result.lastInsertRowid);
  }

  recordSkip(entry: NewUrl, reason: SkipReason): void {
    this.statements.insertSkipped.run({ ...entry, reason });
  }

  /** Puts a skipped URL back in the frontier (it was found again by a shorter path). */
  requeue(id: number, depth: number, kind: ReferenceKind): void {
    this.statements.requeue.run({ id, depth, kind });
  }

  /** The first URLs of one kind still to fetch, breadth first. */
  queuedBatch(kind: ReferenceKind, limit: number): Pick<UrlRecord, 'id' | 'url' | 'kind' | 'depth'>[] {
    return this.statements.queuedBatch.all(kind, limit);
  }

  update(id: number, fields: Partial<Omit<UrlRecord, 'id' | 'url'>>): void {
    const names = Object.keys(fields);
    if (names.length === 0) return;
    const sql = `UPDATE urls SET ${names.map((name) => `${name} = @${name}`).join(', ')} WHERE id = @id`;
    // Preparing is most of the cost of a small UPDATE; the crawl uses a dozen shapes of field lists over and over.
    let statement = this.updateStatements.get(sql);
    if (!statement) this.updateStatements.set(sql, (statement = this.db.prepare(sql)));
    statement.run({ ...fields, id });
  }

  /** Gives `path` to the URL, or tells which other URL already owns it (paths compare case-folded). */
  claimPath(path: string, urlId: number): boolean {
    const key = pathKey(path);
    this.statements.claimPath.run(key, urlId);
    return this.statements.pathOwner.get(key)?.url_id === urlId;
  }

  /** Hands a path that is already claimed to another URL (an alias that names the shared file). */
  transferPath(path: string, urlId: number): void {
    this.statements.transferPath.run(urlId, pathKey(path));
  }

  /** The URL that owns a path, if any. */
  pathOwner(path: string): number | undefined {
    return this.statements.pathOwner.get(pathKey(path))?.url_id;
  }

  /** Replaces a document's outgoing links with the ones it was just written with. */
  setLinks(fromId: number, links: Map<number, string | null>): void {
    this.transaction(() => {
      this.statements.clearLinks.run(fromId);
      for (const [toId, assumedPath] of links) this.statements.link.run(fromId, toId, assumedPath);
    });
  }

  /** Documents written with a link whose target later landed elsewhere, failed, or was skipped. */
  unsettledDocuments(): number[] {
    return this.statements.unsettled.all().map((row) => row.from_id);
  }

  countQueued(): number {
    return (this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM urls WHERE state = 'queued'`).get()?.n ?? 0);
  }

  countPages(): number {
    return this.statements.countPagesQueuedOrDone.get()?.n ?? 0;
  }

  /** How many known URLs start with `prefix` (which must end in '?'), counting at most `atMost`. */
  countQueryVariants(prefix: string, atMost: number): number {
    return this.statements.countPrefixed.get(prefix, `${prefix.slice(0, -1)}@`, atMost)?.n ?? 0;
  }

  /** Puts URLs that failed for a reason that may pass (network, timeout, 5xx, 408, 429) back in the frontier. */
  requeueTransientFailures(): number {
    return this.statements.requeueTransient.run().changes;
  }

  startRun(command: string): number {
    return Number(this.statements.startRun.run(command, new Date().toISOString()).lastInsertRowid);
  }

  finishRun(runId: number, summary: unknown): void {
    this.statements.finishRun.run(new Date().toISOString(), JSON.stringify(summary), runId);
  }

  /**
   * Starts an update inside one long transaction (rolled back if the run dies, so a failed update leaves the state
   * as it was): remembers each record as it stands, then puts every URL the mirror knows back in the frontier.
   */
  beginUpdate(): void {
    this.db.exec('BEGIN IMMEDIATE');
    this.db.exec(`DROP TABLE IF EXISTS previous;
      CREATE TEMP TABLE previous AS SELECT id, state, sha256, own_path, local_path FROM urls;
      UPDATE urls SET state = 'queued' WHERE state IN ('done', 'failed', 'redirected', 'removed') OR (state = 'skipped' AND skip_reason = 'robots');`);
  }

  /** How a record stood before this update, if it existed. */
  previous(id: number): { state: UrlState; sha256: string | null; own_path: string | null } | undefined {
    return this.db.prepare<[number], { state: UrlState; sha256: string | null; own_path: string | null }>('SELECT state, sha256, own_path FROM previous WHERE id = ?').get(id);
  }

  /** Compares every record with how it stood when the update began. */
  changes(): ChangeLists {
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

  commitUpdate(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
  }

  rollbackUpdate(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  all(sql: string, ...params: unknown[]): unknown[] {
    return this.db.prepare(sql).all(...params);
  }

  close(): void {
    this.db.close();
  }
}

/** The options JSON a mirror folder was made with; throws a USAGE error when the folder holds no mirror. */
export function readStoredOptionsJson(outputDir: string): string {
  const file = join(outputDir, '.sitemirror', 'state.db');
  if (!existsSync(file)) throw new SitemirrorError('USAGE', `${outputDir} holds no sitemirror state (.sitemirror/state.db): not a mirror; make one with sitemirror crawl`);
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare<[], { value: string }>(`SELECT value FROM meta WHERE key = 'options'`).get();
    if (!row) throw new SitemirrorError('USAGE', `${outputDir} has no recorded crawl options: not a finished mirror`);
    return row.value;
  } finally {
    db.close();
  }
}

