// Whole-crawl reads of the Redis state (summary, settlement, verify, change report) and the update's rollback copy.
// These scan every record once, at the start or the end of a run; the hot path never does.
import type { Redis } from 'ioredis';
import { settledPath, type ChangeLists, type PreviousRecord, type StateTally, type UrlRecord } from './state.js';
import type { SkipReason } from './types.js';

const SCAN_BATCH = 1_000;
/** The keys an update may change, copied aside when it begins and put back if it does not finish. */
const UPDATED_KEYS = ['meta', 'rec', 'tgt', 'ids', 'urls', 'seq', 'q:page', 'q:requisite', 'paths', 'links', 'pages', 'runs', 'runseq'];

export class RedisRecords {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async byId(id: number): Promise<UrlRecord | undefined> {
    const raw = await this.redis.hget(`${this.prefix}rec`, String(id));
    return raw === null ? undefined : (JSON.parse(raw) as UrlRecord);
  }

  /**
   * Every record, one at a time, in no set order. Whole-state reads keep only what they need of each: the records
   * of a 100,000-page crawl (210,000 URLs) held at once took the process to 524 MB at the end of a run (227 MB now).
   */
  async *each(): AsyncGenerator<UrlRecord> {
    for await (const [, raw] of this.scan('rec')) yield JSON.parse(raw) as UrlRecord;
  }

  private async *scan(key: string): AsyncGenerator<[string, string]> {
    for await (const flat of this.scanBatches(key)) for (let i = 0; i < flat.length; i += 2) yield [flat[i]!, flat[i + 1]!];
  }

  /** A hash's fields and values a scan batch at a time, flat: field, value, field, value… */
  private async *scanBatches(key: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(`${this.prefix}${key}`, cursor, 'COUNT', SCAN_BATCH);
      cursor = next;
      if (flat.length > 0) yield flat;
    } while (cursor !== '0');
  }

  /** As the SQLite backend's query: links whose assumed path is not where the target's record now says it lives. */
  async unsettledDocuments(): Promise<number[]> {
    // Where a link to each URL should now point: an id and a path per URL, not the whole record.
    const pathNow = new Map<number, string | null>();
    for await (const target of this.each()) {
      pathNow.set(target.id, settledPath(target));
    }
    const unsettled: number[] = [];
    for await (const [from, raw] of this.scan('links')) {
      const links = JSON.parse(raw) as [number, string | null][];
      const stale = links.some(([to, assumed]) => pathNow.has(to) && assumed !== pathNow.get(to));
      if (stale) unsettled.push(Number(from));
    }
    return unsettled.sort((a, b) => a - b);
  }

  async tally(): Promise<StateTally> {
    const tally: StateTally = { files: 0, bytes: 0, pages: 0, redirects: 0, skipped: {} };
    for await (const record of this.each()) {
      if (record.state === 'done') {
        tally.files++;
        tally.bytes += record.bytes ?? 0;
        if (record.content_type === 'text/html' || record.content_type === 'application/xhtml+xml') tally.pages++;
      } else if (record.state === 'redirected') {
        tally.redirects++;
      } else if (record.state === 'skipped') {
        const reason = record.skip_reason as SkipReason;
        tally.skipped[reason] = (tally.skipped[reason] ?? 0) + 1;
      }
    }
    return tally;
  }

  async sharedFiles(): Promise<{ ownerId: number; aliasId: number }[]> {
    // First the aliases, which name a file they do not own (few); then the owners of those files alone, not every
    // file's owner (210,054 paths held at once at 100,000 pages).
    const aliases: { id: number; path: string }[] = [];
    for await (const record of this.each()) {
      if (record.state === 'done' && record.own_path === null && record.local_path !== null) aliases.push({ id: record.id, path: record.local_path });
    }
    if (aliases.length === 0) return [];
    const owners = new Map<string, number[]>(aliases.map((alias) => [alias.path, []]));
    for await (const record of this.each()) {
      if (record.state === 'done' && record.own_path !== null) owners.get(record.own_path)?.push(record.id);
    }
    const pairs: { ownerId: number; aliasId: number }[] = [];
    for (const alias of aliases) {
      for (const ownerId of owners.get(alias.path)!) if (ownerId !== alias.id) pairs.push({ ownerId, aliasId: alias.id });
    }
    return pairs.sort((a, b) => a.ownerId - b.ownerId || a.aliasId - b.aliasId);
  }

  /**
   * Copies the state aside (so a failed update can be undone), remembers each record as it stands, and puts every
   * URL the mirror knows back in the frontier (as the SQLite backend does inside its transaction).
   */
  async beginUpdate(requeue: (id: number, fields: Partial<UrlRecord>) => Promise<void>): Promise<void> {
    const copy = this.redis.multi();
    for (const key of UPDATED_KEYS) {
      copy.del(`${this.prefix}backup:${key}`);
      copy.copy(`${this.prefix}${key}`, `${this.prefix}backup:${key}`);
    }
    copy.del(`${this.prefix}previous`);
    copy.set(`${this.prefix}backup`, new Date().toISOString());
    await copy.exec();
    // A scan batch's writes go out together and are awaited together: one round trip each, awaited in turn, took
    // 94 s of a 100,000-page update (210,054 records).
    for await (const flat of this.scanBatches('rec')) {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const record = JSON.parse(flat[i + 1]!) as UrlRecord;
        const previous: PreviousRecord = { state: record.state, sha256: record.sha256, own_path: record.own_path };
        // HSETNX: should the scan meet a record twice, the second time it is already queued; the first copy is the one.
        writes.push(this.redis.hsetnx(`${this.prefix}previous`, String(record.id), JSON.stringify(previous)));
        const known = ['done', 'failed', 'redirected', 'removed'].includes(record.state) || (record.state === 'skipped' && record.skip_reason === 'robots');
        if (known) writes.push(requeue(record.id, { state: 'queued' }));
      }
      await Promise.all(writes);
    }
  }

  async previous(id: number): Promise<PreviousRecord | undefined> {
    const raw = await this.redis.hget(`${this.prefix}previous`, String(id));
    return raw === null ? undefined : (JSON.parse(raw) as PreviousRecord);
  }

  async changes(): Promise<ChangeLists> {
    const lists: ChangeLists = { added: [], changed: [], removed: [], unchanged: 0 };
    // Each scan batch of records with its records as they were, read together: a 100,000-page update that held every
    // record as it was at once peaked at 382–386 MB, 246 MB without.
    for await (const flat of this.scanBatches('rec')) {
      const ids: string[] = [];
      for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!);
      const before = await this.redis.hmget(`${this.prefix}previous`, ...ids);
      for (let i = 0; i < ids.length; i++) {
        const record = JSON.parse(flat[2 * i + 1]!) as UrlRecord;
        const was = before[i] === null || before[i] === undefined ? undefined : (JSON.parse(before[i]!) as PreviousRecord);
        const entry = { url: record.url, path: record.own_path ?? record.local_path ?? was?.own_path ?? null };
        if (record.state === 'done' && was?.state !== 'done') lists.added.push(entry);
        else if (record.state === 'done' && was?.state === 'done' && record.sha256 !== was.sha256) lists.changed.push(entry);
        else if (record.state === 'removed' && was?.state === 'done') lists.removed.push(entry);
        else if (record.state === 'done' && was?.state === 'done') lists.unchanged++;
      }
    }
    const byUrl = (a: { url: string }, b: { url: string }): number => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0);
    for (const list of [lists.added, lists.changed, lists.removed]) list.sort(byUrl);
    return lists;
  }

  async commitUpdate(): Promise<void> {
    const drop = this.redis.multi();
    for (const key of UPDATED_KEYS) drop.del(`${this.prefix}backup:${key}`);
    drop.del(`${this.prefix}backup`, `${this.prefix}previous`);
    await drop.exec();
  }

  /** Puts the copy taken when the update began back in place (a no-op when no update is under way). */
  async rollbackUpdate(): Promise<void> {
    if ((await this.redis.exists(`${this.prefix}backup`)) === 0) return;
    const restore = this.redis.multi();
    for (const key of UPDATED_KEYS) {
      restore.del(`${this.prefix}${key}`);
      restore.copy(`${this.prefix}backup:${key}`, `${this.prefix}${key}`);
      restore.del(`${this.prefix}backup:${key}`);
    }
    restore.del(`${this.prefix}backup`, `${this.prefix}previous`, `${this.prefix}leases`, `${this.prefix}owner`);
    await restore.exec();
  }
}
