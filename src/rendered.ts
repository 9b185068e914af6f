// Rendering within the crawl: which fetched pages go to the browser, and what becomes of a render. The snapshot
// replaces the fetched body, what the page loaded joins the mirror as its requisites (no second download), and
// where its scripts tried to go joins the frontier. The browser itself is in render.ts and visit.ts.
import type { CrawlOptions } from './config.js';
import { isHtmlType, pageRunsScripts, withoutScripts } from './documents.js';
import { messageOf } from './errors.js';
import type { Frontier } from './frontier.js';
import { effectiveMediaType } from './mediatype.js';
import { startRenderer, type ArchivedExchange, type CapturedResponse, type PageRenderer, type RenderedPage } from './render.js';
import { RenderRequestPolicy, type RenderRequestContext } from './renderrequests.js';
import type { UrlRecord } from './state.js';
import type { ExpectedType, PageSource } from './types.js';

/** What the crawl lends to rendering. */
export interface RenderingCrawl extends RenderRequestContext {
  frontier: Frontier;
  say: { info(message: string): void; warn(message: string): void };
  /** Aborted when the crawl stops: a render in progress ends at once. */
  signal: AbortSignal;
  /**
   * Stores a response the browser loaded under the record this page claimed for it, as if fetched (a 4xx is
   * recorded as failed); throws only what stops the whole run. The claim is released afterwards.
   */
  keepResponse(record: UrlRecord, response: CapturedResponse): Promise<void>;
  /** --warc: told every exchange the browser had with the network, as it arrived. */
  archive?: (exchange: ArchivedExchange) => Promise<void>;
}

export class PageRendering {
  /** The browser, once asked for: undefined inside when none could be found or started (one warning said so). */
  private renderer: Promise<PageRenderer | undefined> | undefined;
  /** Set once the browser turned out missing: pages are then no longer checked for scripts, for nothing. */
  private noBrowser = false;

  private constructor(
    private readonly startBrowser: () => Promise<PageRenderer | undefined>,
    private readonly requests: RenderRequestPolicy,
    private readonly crawl: RenderingCrawl,
    private readonly keepScripts: boolean,
    /** --render always: every page goes to the browser; auto: only pages that run scripts. */
    private readonly everyPage: boolean,
  ) {}

  /**
   * Rendering as --render asks; undefined when pages are not rendered (see startRenderer). --render always, and a
   * --browser given, start the browser now, so that always without a browser, or a --browser path with nothing
   * there, ends the run before its first request. Under auto the browser starts with the first page that runs
   * scripts: a static site never starts one.
   */
  static async start(options: CrawlOptions, crawl: RenderingCrawl): Promise<PageRendering | undefined> {
    if (options.render === 'never') return undefined;
    const make = (startBrowser: () => Promise<PageRenderer | undefined>) =>
      new PageRendering(startBrowser, new RenderRequestPolicy(crawl), crawl, options.keepScripts, options.render === 'always');
    if (options.render === 'auto' && options.browserPath === undefined) {
      return make(() =>
        startRenderer(options, crawl.say).catch((error: unknown) => {
          crawl.say.warn(`${messageOf(error)}; pages are saved as the server sends them, without running their scripts`);
          return undefined;
        }),
      );
    }
    const renderer = await startRenderer(options, crawl.say);
    return renderer && make(async () => renderer);
  }

  /**
   * A page is rendered when it was expected to be HTML and the server answered 200 with HTML, and, under
   * --render auto, when it runs scripts: a page without any renders to the DOM it was sent, so the browser would
   * only cost time (ten times the CPU of a plain page). And when there is a browser to render it.
   */
  async wants(record: UrlRecord, source: PageSource): Promise<boolean> {
    if (this.noBrowser) return false;
    const html = record.expected === 'html' && source.status === 200 && effectiveMediaType(source.contentType, source.body, source.finalUrl) === 'text/html';
    if (!html || !(this.everyPage || (await pageRunsScripts(source.body, source.charset)))) return false;
    return (await this.browser()) !== undefined;
  }

  /**
   * The page rendered in the browser: its DOM, without scripts unless --keep-scripts. What the page loaded joins the
   * mirror first, so the DOM's links find those files. A page the browser cannot render is kept as fetched;
   * undefined when the crawl stopped meanwhile.
   */
  async render(record: UrlRecord, source: PageSource): Promise<PageSource | undefined> {
    const { say, signal, frontier } = this.crawl;
    const renderer = await this.browser();
    if (renderer === undefined) return source;
    let rendered: RenderedPage;
    try {
      rendered = await renderer.render({ document: source, decide: this.requests.decide, signal, archive: this.crawl.archive });
    } catch (error) {
      if (signal.aborted) return undefined;
      say.warn(`${record.url} is saved as the server sent it, not rendered: ${messageOf(error)}`);
      return source;
    }
    if (rendered.incomplete) say.warn(`${record.url} is saved as it stood: ${rendered.incomplete}`);
    try {
      await this.keepCaptured(record, rendered.captured);
    } finally {
      this.requests.stored(rendered.captured);
    }
    // A script or meta refresh that moved the page elsewhere was stopped; where it led is a link like any other.
    for (const url of rendered.navigations) await frontier.offer(url, 'page', 'html', { id: record.id, depth: record.depth });
    return this.keepScripts ? rendered.source : { ...rendered.source, body: withoutScripts(rendered.source.body) };
  }

  async close(): Promise<void> {
    // A browser still starting is closed once it has.
    await (await this.renderer)?.close();
  }

  private browser(): Promise<PageRenderer | undefined> {
    return (this.renderer ??= this.startBrowser().then((renderer) => {
      this.noBrowser = renderer === undefined;
      return renderer;
    }));
  }

  /**
   * Responses the browser loaded are requisites of the page, kept with the bytes the browser got instead of a second
   * download. All are claimed before any is stored, so no other worker fetches one meanwhile.
   */
  private async keepCaptured(page: UrlRecord, captured: CapturedResponse[]): Promise<void> {
    const { frontier, scope } = this.crawl;
    const parent = { id: page.id, depth: page.depth };
    const claimed: { record: UrlRecord; response: CapturedResponse }[] = [];
    for (const response of captured) {
      // A redirect target the browser followed passes the same scope and robots checks as a link.
      if (scope.requisiteSkipReason(response.url) !== null) continue;
      if (!(await this.crawl.robotsPolicy(response.url)).isAllowed(response.url)) continue;
      // A new URL is claimed in the same step as it is added (`true`), so no other worker takes it meanwhile.
      const admission = await frontier.offer(response.url, 'requisite', expectedTypeOf(response.contentType), parent, true);
      if ('record' in admission && (admission.claimed || (await frontier.claim(admission.record.id)))) claimed.push({ record: admission.record, response });
    }
    for (const { record, response } of claimed) {
      try {
        await this.crawl.keepResponse(record, response);
      } finally {
        await frontier.release(record.id);
      }
    }
  }
}

function expectedTypeOf(contentType: string): ExpectedType {
  return isHtmlType(contentType) ? 'html' : contentType === 'text/css' ? 'css' : 'other';
}
