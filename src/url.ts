// URL resolution and normalisation (WHATWG URL parsing, RFC 3986 §6.2.2 normalisation). Pure.

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Upper-cases percent-escapes and decodes the ones that stand for unreserved characters (RFC 3986 §6.2.2). */
function normalizePercentEncoding(part: string): string {
  return part.replace(/%([0-9a-fA-F]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * Resolves a reference found in a document against its base URL.
 * Returns null for anything that is not an http(s) URL (mailto:, javascript:, data:, file:, a broken reference).
 * The WHATWG parser already removes tabs and newlines inside the reference and resolves dot segments.
 */
export function resolveUrl(reference: string, base: string): string | null {
  const trimmed = reference.trim();
  if (trimmed === '') return null;
  const quick = rootRelative(trimmed, base);
  if (quick !== undefined) return quick;
  let url: URL;
  try {
    url = new URL(trimmed, base);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.href;
}

/** A root-relative reference the parser would copy as it is: `/a/b.html?x=1`, no dot segment, escape or odd byte. */
const PLAIN_ROOT_RELATIVE = /^\/(?![/\\])[A-Za-z0-9\-._~!$&()*+,;=:@/]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?]*)?$/;
const DOT_SEGMENT = /\/\.\.?(?:[/?]|$)/;
let lastBase = '';
let lastOrigin: string | undefined;

/**
 * Most links of a site are root-relative and plain; the parser would only put the base's origin in front, so that is
 * done here without parsing both again (a third of the crawl's URL parsing). Undefined: let the parser decide.
 */
function rootRelative(reference: string, base: string): string | undefined {
  if (reference.charCodeAt(0) !== 0x2f || !PLAIN_ROOT_RELATIVE.test(reference)) return undefined;
  const query = reference.indexOf('?');
  if (DOT_SEGMENT.test(query === -1 ? reference : reference.slice(0, query))) return undefined;
  if (base !== lastBase) {
    lastBase = base;
    lastOrigin = undefined;
    try {
      const parsed = new URL(base);
      // A base's user name and password carry over to what resolves against it; such bases take the parser's path.
      const plain = (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.username === '' && parsed.password === '';
      if (plain) lastOrigin = `${parsed.protocol}//${parsed.host}`;
    } catch {
      // not a base the quick path can use
    }
  }
  return lastOrigin === undefined ? undefined : lastOrigin + reference;
}

/** A path the parser gives back as written: printable ASCII it does not escape, no backslash, no `%2e`. */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const ENCODED_DOT = /%2e/i;
/**
 * Where the path starts after `http(s)://` and a host the parser reads as written up to the path's '/' (no
 * whitespace, backslash, '?' or '#'; anything past ASCII is left to the parser), or -1. A loop, not a regex match:
 * the match array it made for every link was about 1% of a crawl's garbage.
 */
function plainAuthorityEnd(url: string): number {
  const start = url.startsWith('http://') ? 7 : url.startsWith('https://') ? 8 : -1;
  if (start === -1) return -1;
  for (let at = start; at < url.length; at++) {
    const code = url.charCodeAt(at);
    if (code === 0x2f) return at > start ? at : -1;
    if (code <= 0x20 || code >= 0x7f || code === 0x5c || code === 0x3f || code === 0x23) return -1;
  }
  return -1;
}

/**
 * The path of a URL, as the parser gives it. An http(s) URL whose path the parser would keep as written (every URL
 * the crawl holds: it wrote them) is read off the string, a tenth of the cost of parsing it again; anything else is
 * parsed, and gives '' when it does not parse. (A string with a plain path but a host or port the parser refuses
 * gives that path: the crawl never holds one.)
 */
export function pathnameOf(url: string): string {
  const start = plainAuthorityEnd(url);
  if (start !== -1) {
    const query = url.indexOf('?', start);
    const fragment = url.indexOf('#', start);
    const path = url.slice(start, Math.min(query === -1 ? url.length : query, fragment === -1 ? url.length : fragment));
    if (PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path) && !ENCODED_DOT.test(path)) return path;
  }
  try {
    return new URL(url).pathname;
  } catch {
    return '';
  }
}

/** How a crawl normalises query strings before dedupe, so one page is not fetched under endless spellings. */
export interface QueryRules {
  /** Sort parameters by name, stably (a repeated name keeps the order of its values): `?b=1&a=2` ⇒ `?a=2&b=1`. */
  sortParams: boolean;
  /**
   * Parameter names to drop (session ids, trackers), case-insensitive; a trailing `*` matches a prefix (`utm_*`).
   * They go from the query and from `;name=value` path parameters (`/page;jsessionid=ABC`).
   */
  stripParams: string[];
}

/** Session ids and campaign trackers: they name the visit, not the page. */
export const DEFAULT_STRIP_PARAMS = ['jsessionid', 'phpsessid', 'sid', 'sessionid', 'utm_*'];

/**
 * The key under which a URL is deduplicated, stored, fetched and named: fragment dropped, scheme and host
 * lower-cased, default port removed, dot segments resolved, percent-escapes normalised. Without `query` rules the
 * query is kept as sent; with them, parameters are dropped and sorted as the rules say (empty pieces go too).
 * Throws a TypeError on an unparsable URL.
 */
export function normalizeUrl(input: string, query?: QueryRules): string {
  // A page's links are normalised where they are offered and again where they are rewritten; URL parsing is the
  // cost, so recent answers are remembered (per rules object: the rules are fixed for a run).
  let recent = RECENT.get(query ?? NO_RULES);
  if (recent === undefined) RECENT.set(query ?? NO_RULES, (recent = new Map()));
  const known = recent.get(input);
  if (known !== undefined) return known;
  const normalized = normalizeUncached(input, query);
  if (recent.size >= RECENT_SIZE) recent.clear();
  recent.set(input, normalized);
  return normalized;
}

const NO_RULES: QueryRules = { sortParams: false, stripParams: [] };
const RECENT = new WeakMap<QueryRules, Map<string, string>>();
const RECENT_SIZE = 4096;

function normalizeUncached(input: string, query?: QueryRules): string {
  const url = new URL(input);
  url.hash = '';
  url.pathname = normalizePercentEncoding(url.pathname);
  if (query && query.stripParams.length > 0 && url.pathname.includes(';')) url.pathname = stripPathParams(url.pathname, query.stripParams);
  // An empty query ('?' alone) reads as '' but stays in href; setting '' drops it.
  if (url.search) url.search = query ? normalizeQuery(normalizePercentEncoding(url.search.slice(1)), query) : normalizePercentEncoding(url.search);
  else url.search = '';
  return url.href;
}

function isStripped(name: string, stripParams: string[]): boolean {
  const lower = name.toLowerCase();
  return stripParams.some((pattern) => {
    const wanted = pattern.toLowerCase();
    return wanted.endsWith('*') ? lower.startsWith(wanted.slice(0, -1)) : lower === wanted;
  });
}

/** `a=1&&utm_source=x&B=2&a=0` ⇒ `B=2&a=1&a=0` (sorted by code unit, stable, stripped, empty pieces dropped). */
function normalizeQuery(query: string, rules: QueryRules): string {
  const params = query
    .split('&')
    .filter((piece) => piece !== '')
    .map((piece) => ({ piece, name: piece.split('=', 1)[0]! }))
    .filter(({ name }) => !isStripped(name, rules.stripParams));
  if (rules.sortParams) params.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return params.map(({ piece }) => piece).join('&');
}

/** `/shop;jsessionid=ABC/item;v=2` ⇒ `/shop/item;v=2` when jsessionid is stripped (Java servlet URL rewriting). */
function stripPathParams(pathname: string, stripParams: string[]): string {
  return pathname.replace(/;([^;/=]*)=[^;/]*/g, (param, name: string) => (isStripped(name, stripParams) ? '' : param));
}

/** The URL without its fragment, for canonical tags and for requests (a fragment is never sent, RFC 9110 §4.2.5). */
export function withoutFragment(input: string): string {
  const url = new URL(input);
  url.hash = '';
  return url.href;
}

/** The fragment of a reference as written ('#x'), or '' when there is none. */
export function fragmentOf(reference: string): string {
  const index = reference.indexOf('#');
  return index === -1 ? '' : reference.slice(index);
}

export function isHttpUrl(input: string): boolean {
  try {
    const { protocol } = new URL(input);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * A host and port the parser may keep as written: lower-case labels, the last not numeric, or a dotted quad
 * without leading zeros; then a port without a leading zero. (httpOriginOf also leaves out the scheme's own port
 * and punycode labels, which the parser checks.)
 */
const PLAIN_HOST = /^(?:(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?::[1-9]\d{0,4})?$/;

/**
 * `scheme://host[:port]` of an http(s) URL as the parser gives it (URL.origin), or undefined for another scheme or
 * an unparsable URL. The URLs a crawl holds are read off the string; anything else is parsed.
 */
export function httpOriginOf(url: string): string | undefined {
  const end = plainAuthorityEnd(url);
  if (end !== -1) {
    const start = url.charCodeAt(4) === 0x3a ? 7 : 8;
    const authority = url.slice(start, end);
    const colon = authority.indexOf(':');
    const port = colon === -1 ? '' : authority.slice(colon + 1);
    if (PLAIN_HOST.test(authority) && !authority.includes('xn--') && port !== (start === 7 ? '80' : '443') && Number(port) <= 65535) return url.slice(0, end);
  }
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/** host[:port] as the URL has it (default ports omitted), lower case. */
export function hostKey(input: string): string {
  return new URL(input).host;
}
