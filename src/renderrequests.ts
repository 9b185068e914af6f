// What the browser may load while it renders a page for the crawl: the crawl's scope, robots.txt and politeness
// apply to the browser's requests as to our own fetches, and files the mirror holds already are served from it.
import { isHtmlType } from './documents.js';
import type { HostGate } from './politeness.js';
import type { CapturedResponse, RenderRequest, RequestDecision } from './rendertypes.js';
import type { RobotsPolicy } from './robots.js';
import { isCredentialHeader, type Scope } from './scope.js';
import type { UrlRecord } from './state.js';
import type { MirrorStore } from './store.js';
import { hostKey, normalizeUrl } from './url.js';

/** Files of the mirror kept in memory for the next page that loads them (a site's shared scripts, styles, images). */
const KEPT_FILES_MAX_BYTES = 32 * 1024 * 1024;

export interface RenderRequestContext {
  scope: Scope;
  robotsPolicy(url: string): Promise<RobotsPolicy>;
  /** The crawl's record of a normalised URL, if it knows one. */
  record(url: string): Promise<UrlRecord | undefined>;
  store: MirrorStore;
  limiter: HostGate;
  /** --header: sent to the hosts the crawl saves from, an Authorization or Cookie among them only where credentialsFor says. */
  headers: Record<string, string>;
  /** The hostnames credentials may go to: the seed's site, as for our own fetches (see seedSiteHostnames). */
  credentialsFor(hostname: string): boolean;
}

/**
 * Decides each request of a rendered page:
 * - `--exclude`d and robots-disallowed URLs are aborted (the page renders without them);
 * - other hosts (analytics, a CDN not allowed with --allow-host) load, so the page looks right, but are not saved;
 * - a file the mirror already holds is served from the mirror, and a file another page is loading right now is
 *   served from that page's capture: no second download of a site's shared scripts, stylesheets, fonts and images
 *   (request interception turns the browser's own HTTP cache off);
 * - the rest goes to the network in a politeness slot of its host and is captured for the mirror.
 */
export class RenderRequestPolicy {
  /** Captures under way or not yet stored by the crawl, by the URL the page asked for. */
  private readonly loading = new Map<string, Promise<CapturedResponse | undefined>>();
  private readonly keyOf = new WeakMap<CapturedResponse, string>();
  private readonly keptFiles = new RecentFiles(KEPT_FILES_MAX_BYTES);

  /** --header without its credentials, for an --allow-host CDN. */
  private readonly headersWithoutCredentials: Record<string, string>;

  constructor(private readonly context: RenderRequestContext) {
    this.headersWithoutCredentials = Object.fromEntries(
      Object.entries(context.headers).filter(([name]) => !isCredentialHeader(name)),
    );
  }

  readonly decide = async ({ url, method, resourceType }: RenderRequest): Promise<RequestDecision> => {
    const { scope, robotsPolicy, limiter, credentialsFor } = this.context;
    const scopeReason = scope.requisiteSkipReason(url);
    if (scopeReason === 'excluded') return { action: 'abort' };
    if (scopeReason !== null) return { action: 'load', capture: false };
    if (!(await robotsPolicy(url)).isAllowed(url)) return { action: 'abort' };
    // A frame's document is a page of its own: the crawl renders it when it reaches the frame's src.
    const capture = method === 'GET' && resourceType !== 'document';
    if (capture) {
      const kept = (await this.keptResponse(url)) ?? asFulfilment(await this.loading.get(url));
      if (kept) return kept;
    }
    const headers = credentialsFor(new URL(url).hostname) ? this.context.headers : this.headersWithoutCredentials;
    const load = { action: 'load' as const, capture, headers, throttle: <T>(send: () => Promise<T>) => limiter.run(hostKey(url), send) };
    if (!capture || this.loading.has(url)) return load;
    let report: (response: CapturedResponse | undefined) => void = () => undefined;
    this.loading.set(url, new Promise((resolve) => (report = resolve)));
    const onCaptured = (response: CapturedResponse | undefined): void => {
      if (response) this.keyOf.set(response, url);
      else this.loading.delete(url);
      report(response);
    };
    return { ...load, onCaptured };
  };

  /** The crawl has stored what one render captured: from now on those files are served from the mirror. */
  stored(captured: readonly CapturedResponse[]): void {
    for (const response of captured) {
      const key = this.keyOf.get(response);
      if (key !== undefined) this.loading.delete(key);
    }
  }

  /** A finished file of the mirror as the origin sent it: a stylesheet's kept raw body, or the file itself (not rewritten). */
  private async keptResponse(url: string): Promise<RequestDecision | undefined> {
    let record: UrlRecord | undefined;
    try {
      record = await this.context.record(normalizeUrl(url));
    } catch {
      return undefined;
    }
    if (record?.state !== 'done' || !record.content_type || !record.local_path || record.http_status !== 200) return undefined;
    // HTML is rewritten and may itself be a rendered snapshot: a frame loads its page from the origin.
    if (isHtmlType(record.content_type)) return undefined;
    const { store } = this.context;
    const raw = record.content_type === 'text/css';
    // Keyed by content, so a file an update rewrote is read again.
    const key = raw ? `raw:${record.sha256}` : `${record.local_path}:${record.file_sha256}`;
    let body = this.keptFiles.get(key);
    if (body === undefined) {
      try {
        body = raw ? await store.readRaw(record.sha256!) : await store.read(record.local_path);
      } catch {
        return undefined; // the file is gone from disk: load it as if it were new
      }
      this.keptFiles.set(key, body);
    }
    const contentType = record.charset ? `${record.content_type}; charset=${record.charset}` : record.content_type;
    return { action: 'fulfil', status: 200, headers: { 'content-type': contentType }, body };
  }
}

function asFulfilment(response: CapturedResponse | undefined): RequestDecision | undefined {
  // Counted as this page's capture too: its links to the file must find it stored, whichever page is stored first.
  return response && { action: 'fulfil', status: response.status, headers: { 'content-type': response.headers['content-type'] ?? '' }, body: response.body, capture: response };
}

/** The most recently used files, up to a total size; a file larger than a tenth of it is not kept. */
class RecentFiles {
  private readonly files = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Buffer | undefined {
    const body = this.files.get(key);
    if (body !== undefined) {
      this.files.delete(key);
      this.files.set(key, body); // the most recent last
    }
    return body;
  }

  set(key: string, body: Buffer): void {
    if (body.length > this.maxBytes / 10 || this.files.has(key)) return;
    this.files.set(key, body);
    this.bytes += body.length;
    for (const [oldest, old] of this.files) {
      if (this.bytes <= this.maxBytes) break;
      this.files.delete(oldest);
      this.bytes -= old.length;
    }
  }
}
