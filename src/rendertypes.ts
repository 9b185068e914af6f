// The shapes render.ts, visit.ts and the crawler's request policy share about rendering one page.
import type { PageSource } from './types.js';

export interface VisitLimits {
  /** One page from navigation to snapshot; a page still loading then is saved as it stands. */
  timeoutMs: number;
  /** Scrolls of one viewport height at most (bounds infinite scroll); 0: no scrolling. */
  scrollSteps: number;
  /** Captured bodies larger than this are left out (--max-file-size). */
  maxBytes: number;
}

/** A response the page loaded (a 200 or a 4xx), as the network delivered it (decoded), for the mirror. */
export interface CapturedResponse {
  url: string;
  status: number;
  headers: Record<string, string>;
  contentType: string;
  charset: string | undefined;
  body: Buffer;
}

/** One answer the browser's fetch got from the network while rendering (a redirect hop too), for --warc. */
export interface ArchivedExchange {
  url: string;
  requestHeaders: Record<string, string>;
  status: number;
  responseHeaders: Record<string, string>;
  /** The body, decoded as the browser hands it; undefined when it could not be read. */
  body: Buffer | undefined;
}

export interface RenderRequest {
  url: string;
  method: string;
  /** Playwright's resource type: 'document', 'stylesheet', 'image', 'font', 'script', 'fetch', 'xhr', … */
  resourceType: string;
}

/** What happens to one request of the page. */
export type RequestDecision =
  | { action: 'abort' }
  /** Served without the network: a file the mirror holds, or what another page captured (`capture`: counted as this page's too). */
  | { action: 'fulfil'; status: number; headers: Record<string, string>; body: Buffer; capture?: CapturedResponse }
  /**
   * Goes to the network, with extra `headers`; `throttle` runs the request (until its response is complete) in a
   * politeness slot. With `capture`, a 200 or 4xx response is kept for RenderedPage.captured, and `onCaptured` is told
   * once, by the end of the visit, what was kept (undefined: nothing, e.g. a 5xx, a failure or a body still streaming).
   */
  | {
      action: 'load';
      capture: boolean;
      onCaptured?: (response: CapturedResponse | undefined) => void;
      headers?: Record<string, string>;
      throttle?: <T>(send: () => Promise<T>) => Promise<T>;
    };

export interface RenderJob {
  /** The page as fetched over HTTP (a 200 HTML answer): the browser gets these bytes instead of fetching them again. */
  document: PageSource;
  /** Decides every other http(s) request the page makes. */
  decide(request: RenderRequest): Promise<RequestDecision>;
  /** Ends the render at once (the crawl stops); the render rejects with the signal's reason. */
  signal?: AbortSignal;
  /** --warc: told of every answer the page's requisite fetches got from the network, once each. */
  archive?(exchange: ArchivedExchange): Promise<void>;
}

export interface RenderedPage {
  /** via 'browser': the DOM after scripts ran, with its doctype, as UTF-8; status and headers of the HTTP answer. */
  source: PageSource;
  /** The responses the page loaded that decide() asked to capture: 200s, and 4xx answers (final, not asked for again). */
  captured: CapturedResponse[];
  /** Top-level navigations the page attempted (script, meta refresh), stopped so the snapshot stays this URL's. */
  navigations: string[];
  /** Why the page was saved before it settled, if it was. */
  incomplete: string | undefined;
}
