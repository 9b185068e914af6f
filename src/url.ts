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
  let url: URL;
  try {
    url = new URL(trimmed, base);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.href;
}

/**
 * The key under which a URL is deduplicated and stored: fragment dropped, scheme and host lower-cased,
 * default port removed, dot segments resolved, percent-escapes normalised. The query is kept as sent.
 * Throws a TypeError on an unparsable URL.
 */
export function normalizeUrl(input: string): string {
  const url = new URL(input);
  url.hash = '';
  url.pathname = normalizePercentEncoding(url.pathname);
  // An empty query ('?' alone) reads as '' but stays in href; setting '' drops it.
  if (url.search) url.search = normalizePercentEncoding(url.search);
  else url.search = '';
  return url.href;
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

/** host[:port] as the URL has it (default ports omitted), lower case. */
export function hostKey(input: string): string {
  return new URL(input).host;
}
