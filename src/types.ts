// Shapes shared by the crawler's boxes. Leaves import nothing from the rest of src/ but this file and errors.ts.

/** A body read to a file rather than into memory: where, how many bytes, and their sha256 (hex). */
export interface SpooledBody {
  path: string;
  size: number;
  sha256: string;
}

/** The size of a fetched body, in memory or spooled. */
export function bodySize(source: Pick<PageSource, 'body' | 'spooled'>): number {
  return source.spooled?.size ?? source.body.length;
}

/** One hop of a redirect chain, as the origin answered it. */
export interface RedirectHop {
  url: string;
  status: number;
  location: string;
}

/**
 * What fetch (HTTP) and render (a browser) both return, so that everything after them treats a page alike.
 * `body` holds the bytes as the origin sent them, decompressed; `contentType` is the bare media type
 * in lower case ('' when the origin sent none), `charset` the header's charset parameter if any.
 */
export interface PageSource {
  requestedUrl: string;
  finalUrl: string;
  status: number;
  headers: Record<string, string>;
  contentType: string;
  charset: string | undefined;
  body: Buffer;
  /**
   * A body too large to hold (FetchRequest.spool): the whole of it is in this file, and `body` holds only its first
   * bytes, enough to sniff its type. Whoever takes the source moves the file into the mirror or removes it.
   */
  spooled?: SpooledBody;
  /** --warc only: the body as it arrived, content codings (gzip, br) still applied, for the archive. */
  wireBody?: Buffer;
  redirectChain: RedirectHop[];
  /** 'http' for a plain fetch, 'browser' for a rendered DOM. */
  via: 'http' | 'browser';
}

/** How a document refers to another URL: a page to crawl, or a requisite the page needs to display. */
export type ReferenceKind = 'page' | 'requisite';

/** What the target is expected to be, which picks its predicted file extension before it is fetched. */
export type ExpectedType = 'html' | 'css' | 'other';

/** A URL found in a document, already resolved to absolute form (not yet normalised). */
export interface Reference {
  url: string;
  kind: ReferenceKind;
  expected: ExpectedType;
}

/**
 * Answers, for an absolute URL found in a document, what the rewritten link should be:
 * a path relative to the document's own file (fragment not included), or null to write the absolute origin URL.
 */
export type LinkResolver = (absoluteUrl: string) => string | null;

/** Why a URL was not fetched: counted in the report, never an error. */
export type SkipReason =
  | 'out-of-scope'
  | 'robots'
  | 'excluded'
  | 'depth'
  | 'max-pages'
  | 'scheme'
  | 'trap';
