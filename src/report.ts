// What the user sees: a progress line on a terminal, JSON events with --json, warnings, and the summary.
import type { Writable } from 'node:stream';
import type { ChangeLists } from './state.js';
import type { SkipReason } from './types.js';

export interface FailedUrl {
  url: string;
  code: string;
  message: string;
  /** Where the origin's error page was saved (--keep-error-pages). */
  savedAs?: string;
}

/** What an update changed (by the origin's bytes) and what it cost. */
export interface ChangeReport extends ChangeLists {
  requests: number;
  notModified: number;
  bytesReceived: number;
}

export interface CrawlSummary {
  outputDir: string;
  pages: number;
  files: number;
  bytes: number;
  redirects: number;
  failed: FailedUrl[];
  skipped: Partial<Record<SkipReason, number>>;
  rewrittenForSettlement: number;
  durationMs: number;
  /** Set by an update. */
  changes?: ChangeReport;
  /** Set when the crawl stopped early (interrupted, disk full). */
  stoppedBecause?: string;
  /** The first URL each crawler trap stopped, with why (src/traps.ts); set when a trap was met. */
  traps?: { url: string; reason: string }[];
}

export interface ReporterOptions {
  json: boolean;
  quiet: boolean;
  out: Writable & { isTTY?: boolean };
  err: Writable & { isTTY?: boolean };
}

const PROGRESS_INTERVAL_MS = 250;

export class Reporter {
  private pages = 0;
  private files = 0;
  private bytes = 0;
  private errors = 0;
  private queued = 0;
  private readonly startedAt = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly options: ReporterOptions) {}

  private get showsProgress(): boolean {
    return !this.options.json && !this.options.quiet && this.options.err.isTTY === true;
  }

  private event(payload: Record<string, unknown>): void {
    if (this.options.json) this.options.out.write(`${JSON.stringify(payload)}\n`);
  }

  /** A one-line warning; shown even with --quiet, since a warning changes what the mirror holds. */
  warn(message: string): void {
    if (this.options.json) return this.event({ event: 'warning', message });
    this.clearProgress();
    this.options.err.write(`sitemirror: warning: ${message}\n`);
  }

  info(message: string): void {
    if (this.options.json) return this.event({ event: 'info', message });
    if (this.options.quiet) return;
    this.clearProgress();
    this.options.err.write(`sitemirror: ${message}\n`);
  }

  setQueued(count: number): void {
    this.queued = count;
    this.drawProgress();
  }

  saved(url: string, path: string, bytes: number, isPage: boolean, status: number): void {
    if (isPage) this.pages++;
    this.files++;
    this.bytes += bytes;
    this.event({ event: 'saved', url, path, bytes, status, page: isPage });
    this.drawProgress();
  }

  redirected(url: string, target: string): void {
    this.event({ event: 'redirected', url, target });
  }

  failed(failure: FailedUrl): void {
    this.errors++;
    this.event({ event: 'failed', ...failure });
    this.drawProgress();
  }

  /** `detail` says more than the reason (which trap, which limit). */
  skipped(url: string, reason: SkipReason, detail?: string): void {
    this.event({ event: 'skipped', url, reason, ...(detail === undefined ? {} : { detail }) });
  }

  private drawProgress(): void {
    if (!this.showsProgress) return;
    const now = Date.now();
    if (now - this.lastDraw < PROGRESS_INTERVAL_MS) return;
    this.lastDraw = now;
    const seconds = Math.max((now - this.startedAt) / 1000, 0.001);
    const line = `${this.pages} pages, ${this.files} files, ${this.queued} queued · ${formatBytes(this.bytes)} · ${this.errors} errors · ${(this.pages / seconds).toFixed(1)} pages/s`;
    this.options.err.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  private clearProgress(): void {
    if (this.drawn) this.options.err.write('\r\x1b[2K');
    this.drawn = false;
  }

  finish(summary: CrawlSummary): void {
    this.clearProgress();
    if (this.options.json) return this.event({ event: 'summary', ...summary });
    const skipped = Object.entries(summary.skipped)
      .map(([reason, count]) => `${count} ${reason}`)
      .join(', ');
    const lines = [
      `${summary.stoppedBecause ? 'Stopped' : summary.changes ? 'Checked' : 'Mirrored'} ${summary.pages} pages and ${summary.files} files (${formatBytes(summary.bytes)}) into ${summary.outputDir} in ${(summary.durationMs / 1000).toFixed(1)}s.`,
    ];
    if (summary.stoppedBecause) lines.push(`Stopped because ${summary.stoppedBecause}; run the same command again to go on.`);
    if (summary.changes) lines.push(...describeChanges(summary.changes));
    if (skipped) lines.push(`Skipped: ${skipped}.`);
    for (const trap of summary.traps ?? []) lines.push(`  crawler trap at ${trap.url}: ${trap.reason}`);
    if (summary.failed.length > 0) {
      lines.push(`${summary.failed.length} failed:`);
      for (const failure of summary.failed.slice(0, 20)) {
        lines.push(`  ${failure.url}: ${failure.message}${failure.savedAs === undefined ? '' : ` (error page kept as ${failure.savedAs})`}`);
      }
      if (summary.failed.length > 20) lines.push(`  … and ${summary.failed.length - 20} more in the report.`);
    }
    if (!this.options.quiet || summary.failed.length > 0) this.options.err.write(`${lines.join('\n')}\n`);
  }
}

/** The readable change report of an update: counts, cost, then each URL by kind of change. */
export function describeChanges(changes: ChangeReport): string[] {
  const lines = [
    `Changes: ${changes.added.length} added, ${changes.changed.length} changed, ${changes.removed.length} removed, ${changes.unchanged} unchanged` +
      ` (${changes.requests} requests, ${changes.notModified} answered 304 Not Modified, ${formatBytes(changes.bytesReceived)} received).`,
  ];
  for (const [label, entries] of [['added', changes.added], ['changed', changes.changed], ['removed', changes.removed]] as const) {
    for (const entry of entries.slice(0, 50)) lines.push(`  ${label.padEnd(8)}${entry.url}`);
    if (entries.length > 50) lines.push(`  … and ${entries.length - 50} more ${label} in the report.`);
  }
  return lines;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}
