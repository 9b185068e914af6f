// An update's life: a staging copy of the mirror, one state transaction, a publish at the end (or nothing at all).
import { formatHttpDate, parseHttpDate } from './httpdate.js';
import type { ChangeReport } from './report.js';
import { Staging } from './staging.js';
import type { CrawlState, UrlRecord } from './state.js';
import type { MirrorStore } from './store.js';

export interface UpdateTraffic {
  requests: number;
  notModified: number;
  bytesReceived: number;
}

export class MirrorUpdate {
  private readonly staging: Staging;

  constructor(
    private readonly state: CrawlState,
    private readonly store: MirrorStore,
  ) {
    this.staging = new Staging(store.root);
  }

  /** A publish cut short by a crash is finished before anything else touches the mirror. */
  static async finishInterruptedPublish(state: CrawlState, store: MirrorStore): Promise<void> {
    const pending = await state.getMeta('publish');
    if (!pending) return;
    await new Staging(store.root).publish(JSON.parse(pending) as string[]);
    await state.setMeta('publish', '');
  }

  /** Works on a hard-linked copy of the mirror inside one state transaction; readers keep the old mirror. */
  async begin(): Promise<void> {
    await this.staging.prepare();
    this.store.redirectFilesTo(this.staging.nextRoot);
    await this.state.beginUpdate();
  }

  /**
   * Commits the new records together with a note that a publish is due, then moves the next mirror into place and
   * returns what changed; a stopped update rolls back, leaves the previous mirror as it was, and returns undefined.
   */
  async end(stopped: boolean, traffic: UpdateTraffic): Promise<ChangeReport | undefined> {
    if (stopped) {
      await this.abandon();
      return undefined;
    }
    const changes = { ...(await this.state.changes()), ...traffic };
    const hosts = await this.staging.stagedHosts();
    await this.state.setMeta('publish', JSON.stringify(hosts));
    await this.state.commitUpdate();
    await this.staging.publish(hosts);
    await this.state.setMeta('publish', '');
    return changes;
  }

  /** Drops the staged mirror and the uncommitted records (a no-op after end()). */
  async abandon(): Promise<void> {
    await this.state.rollbackUpdate();
    await this.staging.discard();
  }
}

/** If-None-Match and If-Modified-Since from what the origin sent last time (RFC 9110 §13.1). */
export function conditionalHeaders(record: UrlRecord): Record<string, string> {
  if (record.own_path === null && record.local_path === null) return {};
  const headers: Record<string, string> = {};
  if (record.etag) headers['if-none-match'] = record.etag;
  const lastModified = record.last_modified ? parseHttpDate(record.last_modified) : undefined;
  if (lastModified !== undefined) headers['if-modified-since'] = formatHttpDate(lastModified);
  return headers;
}
