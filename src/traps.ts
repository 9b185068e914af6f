// Crawler traps: URL shapes that make endless pages out of a finite site — an infinite calendar (?month=N+1),
// relative links that add a folder on every hop (a/a/a/…, X-02), one page under endless query spellings. Pure: the
// frontier asks about each new URL and says what it has already seen of the URL's path.
import { pathnameOf } from './url.js';

export interface TrapLimits {
  /** Path segments a URL may have; a deeper URL is a trap (links that go one folder deeper on every hop). @default 32 */
  maxPathSegments: number;
  /** Times one segment may occur in a path (`/infra/www/infra/www/…`, a soft 404 linking to itself). @default 3 */
  maxSegmentRepeats: number;
  /** Page URLs of one path that differ only in their query (a calendar, a filter combinator). @default 100 */
  maxQueryVariants: number;
}

export const DEFAULT_TRAP_LIMITS: TrapLimits = { maxPathSegments: 32, maxSegmentRepeats: 3, maxQueryVariants: 1000 };

export type TrapKind = 'path-segments' | 'segment-repeats' | 'query-variants';

export interface Trap {
  kind: TrapKind;
  /** One line for the report: what the URL looks like and which limit (and option) stopped it. */
  reason: string;
}

/** What the frontier knows of the URLs it has seen. */
export interface PathHistory {
  /**
   * How many known URLs start with `prefix` (scheme, host, path and `?`): the query variants of that path.
   * May stop counting at `atMost`.
   */
  queryVariants(prefix: string, atMost: number): number;
}

/**
 * Whether a new, normalised URL is a crawler trap, and why. `isPage`: the URL is to be crawled for links (only
 * pages count toward the query variants of a path; the requisites of a bounded set of pages are bounded).
 * - `http://h/a/a/a/a/` (4 × `a`, limit 3) ⇒ segment-repeats
 * - `http://h/1/2/…/33` (limit 32) ⇒ path-segments
 * - `http://h/cal?month=101` when 100 URLs of `http://h/cal?` are known ⇒ query-variants
 */
export function detectTrap(url: string, limits: TrapLimits, history: PathHistory, isPage: boolean): Trap | null {
  // Read off the string for the URLs a crawl holds (see pathnameOf); parsed only for a page with a query.
  const segments = pathnameOf(url).split('/').slice(1);
  // A trailing slash names the folder itself, not one more segment.
  if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  if (segments.length > limits.maxPathSegments) {
    return {
      kind: 'path-segments',
      reason: `${segments.length} path segments, more than ${limits.maxPathSegments} (--max-path-segments): links that go deeper on every hop`,
    };
  }
  const repeated = mostRepeated(segments);
  if (repeated && repeated.count > limits.maxSegmentRepeats) {
    return {
      kind: 'segment-repeats',
      reason: `the segment "${repeated.segment}" occurs ${repeated.count} times in the path, more than ${limits.maxSegmentRepeats} (--max-segment-repeats): relative links that repeat a folder`,
    };
  }
  const parsed = isPage && url.includes('?') && Number.isFinite(limits.maxQueryVariants) ? new URL(url) : undefined;
  if (parsed !== undefined && parsed.search !== '') {
    const path = `${parsed.origin}${parsed.pathname}`;
    const known = history.queryVariants(`${path}?`, limits.maxQueryVariants);
    if (known >= limits.maxQueryVariants) {
      return {
        kind: 'query-variants',
        reason: `more than ${limits.maxQueryVariants} URLs of ${path} differ only in their query (--max-query-variants): an endless calendar or filter`,
      };
    }
  }
  return null;
}

/** The segment that first reaches the highest count, and that count: a pair loop over at most --max-path-segments (32). */
function mostRepeated(segments: string[]): { segment: string; count: number } | undefined {
  let best: { segment: string; count: number } | undefined;
  for (let i = 0; i < segments.length; i++) {
    let count = 1;
    for (let j = 0; j < i; j++) if (segments[j] === segments[i]) count++;
    if (!best || count > best.count) best = { segment: segments[i]!, count };
  }
  return best;
}
