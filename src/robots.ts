// robots.txt: fetch it once per origin, apply the RFC 9309 status table, and answer "may we fetch this URL?".
import { setTimeout as delay } from 'node:timers/promises';
import type robotsParserModule from 'robots-parser';
import type { PageSource } from './types.js';
import { HttpStatusError, SitemirrorError, messageOf } from './errors.js';
import { lazyRequire } from './lazy.js';
import { httpOriginOf, resolveUrl } from './url.js';

/** Fetches a URL, following redirects; throws HttpStatusError for a status ≥ 400 and SitemirrorError otherwise. */
export type GetUrl = (url: string) => Promise<PageSource>;

export interface RobotsPolicy {
  /** Whether the URL may be fetched. A URL of another origin is never allowed here: ask policyFor(thatUrl). */
  isAllowed(url: string): boolean;
  /** Crawl-delay of the group that applies to us, in milliseconds; undefined when none is given. */
  crawlDelayMs: number | undefined;
  /** Absolute http(s) URLs from Sitemap: lines, deduplicated, in file order. */
  sitemaps: string[];
  /** Why the policy is what it is, for the report: 'rules' (parsed), 'missing' (4xx: allow all),
   * 'unreachable' (5xx/network after retries: disallow all), 'ignored' (--ignore-robots). */
  source: 'rules' | 'missing' | 'unreachable' | 'ignored';
}

export interface RobotsOptions {
  /** Our User-Agent header; its product token (the part before '/') is matched against User-agent lines. */
  userAgent: string;
  get: GetUrl;
  /** Extra tries for a 5xx answer or a network/timeout error. */
  retries: number;
  /** Wait between those tries. */
  retryDelayMs: number;
  /** Only this many leading bytes of robots.txt are parsed. @default 524288 (512 KiB) */
  maxBytes?: number;
  /** --ignore-robots: never fetch robots.txt, allow everything. */
  ignore?: boolean;
  warn?: (message: string) => void;
}

/** RFC 9309 §2.5: a parse limit must be at least 500 KiB. */
export const DEFAULT_ROBOTS_MAX_BYTES = 512 * 1024;

// robots-parser is CommonJS (its d.ts says `export default`, but module.exports is the function itself), required
// when the first robots.txt arrives: imported from ES modules it cost 11 ms of the start, before the first request
// (node's CommonJS interop and its export lexer), where the request for robots.txt itself is waiting.
type RobotsParser = typeof robotsParserModule.default;
const robotsParser = lazyRequire<RobotsParser>('robots-parser');
function parseRobots(url: string, text: string): ReturnType<RobotsParser> {
  return robotsParser()(url, text);
}

const LF = 0x0a;
const CR = 0x0d;

/** How a failed robots.txt fetch is read (RFC 9309 §2.3.1). */
type FailureVerdict = 'missing' | 'retry' | 'unreachable';

export class RobotsCache {
  readonly #options: RobotsOptions;
  readonly #productToken: string;
  readonly #maxBytes: number;
  readonly #warn: (message: string) => void;
  /** One promise per origin, stored before the fetch starts, so concurrent callers share it. */
  readonly #policies = new Map<string, Promise<RobotsPolicy>>();

  constructor(options: RobotsOptions) {
    this.#options = options;
    this.#productToken = productToken(options.userAgent);
    this.#maxBytes = options.maxBytes ?? DEFAULT_ROBOTS_MAX_BYTES;
    this.#warn = options.warn ?? (() => {});
  }

  /** The policy for the URL's origin (scheme://host:port); robots.txt is fetched once per origin,
   * concurrent callers share the one fetch. Never rejects for a fetch failure (that becomes a policy);
   * rejects with BAD_URL for a URL that is not http(s). */
  policyFor(url: string): Promise<RobotsPolicy> {
    const origin = httpOriginOf(url);
    if (origin === undefined) {
      return Promise.reject(new SitemirrorError('BAD_URL', `no robots.txt applies to ${url}: not an http(s) URL`));
    }
    let policy = this.#policies.get(origin);
    if (policy === undefined) {
      policy = this.#load(origin).catch((error: unknown) => {
        // Not expected (every fetch outcome is a policy); stay polite if it happens anyway.
        this.#warn(`robots.txt of ${hostOf(origin)} could not be read (${messageOf(error)}): the host is treated as disallowed`);
        return blanketPolicy(origin, false, 'unreachable');
      });
      this.#policies.set(origin, policy);
    }
    return policy;
  }

  async #load(origin: string): Promise<RobotsPolicy> {
    if (this.#options.ignore) return blanketPolicy(origin, true, 'ignored');
    const robotsUrl = `${origin}/robots.txt`;
    const host = hostOf(origin);
    const tries = 1 + Math.max(0, this.#options.retries);
    for (let attempt = 1; ; attempt++) {
      let page: PageSource;
      try {
        page = await this.#options.get(robotsUrl);
      } catch (error) {
        const verdict = classifyFailure(error);
        if (verdict === 'retry' && attempt < tries) {
          await delay(this.#options.retryDelayMs);
          continue;
        }
        if (verdict === 'missing') {
          // A plain 4xx is normal (no robots.txt); only a broken redirect chain is worth a line.
          if (!(error instanceof HttpStatusError)) {
            this.#warn(`robots.txt of ${host}: ${messageOf(error)}; treated as missing, everything is allowed (RFC 9309 §2.3.1.2)`);
          }
          return blanketPolicy(origin, true, 'missing');
        }
        const tried = verdict === 'retry' ? ` after ${tries} ${tries === 1 ? 'try' : 'tries'}` : '';
        this.#warn(`robots.txt of ${host} is unreachable (${messageOf(error)})${tried}: the whole host is treated as disallowed (RFC 9309 §2.3.1.4)`);
        return blanketPolicy(origin, false, 'unreachable');
      }
      return this.#parse(origin, robotsUrl, page);
    }
  }

  #parse(origin: string, robotsUrl: string, page: PageSource): RobotsPolicy {
    const { kept, omitted } = cutAtLastLine(page.body, this.#maxBytes);
    if (omitted.length > 0) this.#warn(omittedRulesMessage(hostOf(origin), page.body.length, kept.length, this.#maxBytes, omitted));
    // Rules belong to the origin robots.txt was asked for, even when a redirect served them from elsewhere
    // (RFC 9309 §2.3.1.2); RFC 9309 §2.3 requires UTF-8 (robots-parser's trim() also drops a BOM).
    const rules = parseRobots(robotsUrl, kept.toString('utf8'));
    const token = this.#productToken;
    const delaySeconds = rules.getCrawlDelay(token);
    const sitemaps = new Set<string>();
    for (const line of rules.getSitemaps()) {
      const absolute = resolveUrl(line, page.finalUrl);
      if (absolute !== null) sitemaps.add(absolute);
    }
    return {
      // robots-parser answers undefined for another origin; that is "not allowed here".
      isAllowed: (url) => rules.isAllowed(url, token) === true,
      crawlDelayMs:
        typeof delaySeconds === 'number' && Number.isFinite(delaySeconds) && delaySeconds >= 0
          ? Math.round(delaySeconds * 1000)
          : undefined,
      sitemaps: [...sitemaps],
      source: 'rules',
    };
  }
}

/**
 * The product token of a User-Agent header: 'sitemirror/0.1 (+https://…)' ⇒ 'sitemirror'.
 * RFC 9309 §2.2.1: the token is letters, '_' and '-', matched case-insensitively; '*' when there is none.
 */
export function productToken(userAgent: string): string {
  return /^[A-Za-z_-]+/.exec(userAgent.trim())?.[0].toLowerCase() ?? '*';
}

/** RFC 9309 §2.3.1: 4xx ⇒ unavailable (allow all); 5xx and network errors ⇒ unreachable (disallow all). */
function classifyFailure(error: unknown): FailureVerdict {
  if (error instanceof HttpStatusError) {
    if (error.status >= 500) return 'retry';
    // 400-499, and any 3xx the fetcher could not follow.
    return 'missing';
  }
  if (error instanceof SitemirrorError) {
    switch (error.code) {
      // §2.3.1.2: past the redirect limit the file MAY be assumed unavailable.
      case 'REDIRECT_LOOP':
      case 'TOO_MANY_REDIRECTS':
      case 'BAD_REDIRECT':
        return 'missing';
      case 'NETWORK':
      case 'TIMEOUT':
        return 'retry';
      default:
        // TOO_LARGE, DECODE…: we could not read the rules, so we must not assume they allow us.
        return 'unreachable';
    }
  }
  return 'unreachable';
}

/**
 * Keeps only the first maxBytes bytes, cut after the last complete line, so a long line cut by the cap
 * (say `Allow: /very/long/path`) is dropped whole instead of becoming a shorter, wider rule (HTTrack #1294).
 * RFC 9309 §2.5 lets a crawler ignore what lies past its limit.
 */
export function cutAtLastLine(body: Buffer, maxBytes: number): { kept: Buffer; omitted: Buffer } {
  if (body.length <= maxBytes) return { kept: body, omitted: body.subarray(body.length) };
  const next = body[maxBytes];
  // The line at the cap is complete when the first byte past the cap ends it.
  const end =
    next === LF || next === CR
      ? maxBytes
      : Math.max(body.lastIndexOf(LF, maxBytes - 1), body.lastIndexOf(CR, maxBytes - 1)) + 1;
  return { kept: body.subarray(0, end), omitted: body.subarray(end) };
}

const RULE_LINE = /^\s*(user-agent|allow|disallow|crawl-delay|sitemap)\s*:/i;

/** Names what was left out, so a user can see which rules past the cap were not applied. */
function omittedRulesMessage(host: string, totalBytes: number, keptBytes: number, maxBytes: number, omitted: Buffer): string {
  const lines = omitted
    .toString('utf8')
    .split(/\r\n|\r|\n/)
    .filter((line) => RULE_LINE.test(line))
    .map((line) => line.trim());
  const shown = lines.slice(0, 3).map((line) => JSON.stringify(line.length > 100 ? `${line.slice(0, 100)}…` : line));
  const more = lines.length > shown.length ? `, … (${lines.length - shown.length} more)` : '';
  return (
    `robots.txt of ${host} is ${totalBytes} bytes, over the ${maxBytes}-byte limit: only the first ${keptBytes} bytes were parsed, ` +
    `${lines.length} rule line(s) after them were left out${shown.length > 0 ? `: ${shown.join(', ')}${more}` : ''}`
  );
}

function blanketPolicy(origin: string, allow: boolean, source: RobotsPolicy['source']): RobotsPolicy {
  return {
    isAllowed: (url) => allow && httpOriginOf(url) === origin,
    crawlDelayMs: undefined,
    sitemaps: [],
    source,
  };
}

function hostOf(origin: string): string {
  return new URL(origin).host;
}
