// Crawler traps: URL shapes that make endless pages out of a finite site — an infinite calendar (?month=N+1),
// relative links that add a folder on every hop (a/a/a/…, X-02), one page under endless query spellings. Pure: the
// frontier asks about each new URL and says what it has already seen of the URL's path.

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
  const parsed = new URL(url);
  const segments = parsed.pathname.split('/').slice(1);
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
  if (isPage && parsed.search !== '' && Number.isFinite(limits.maxQueryVariants)) {
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

function mostRepeated(segments: string[]): { segment: string; count: number } | undefined {
  const counts = new Map<string, number>();
  let best: { segment: string; count: number } | undefined;
  for (const segment of segments) {
    const count = (counts.get(segment) ?? 0) + 1;
    counts.set(segment, count);
    if (!best || count > best.count) best = { segment, count };
  }
  return best;
}
