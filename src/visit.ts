// One page in the browser: serve it the fetched document, watch its network, wait for load and a quiet network,
// scroll for lazy content, then take the DOM and the responses it loaded. render.ts owns the pages and their crashes.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { APIResponse, Page, Request, Route } from 'playwright-core';
import { SitemirrorError, messageOf } from './errors.js';
import { parseContentType } from './fetch.js';
import { LOADED, MAY_LOAD_ON_SCROLL, PAGE_HEIGHT, REQUESTS_STARTED, SCROLL_THROUGH, SNAPSHOT, TIMERS_SETTLED, TIMER_HORIZON_MS, WAIT_FOR_IMAGES } from './inpage.js';
import { NetworkActivity } from './netactivity.js';
import type { CapturedResponse, RenderedPage, RenderJob, VisitLimits } from './rendertypes.js';

interface FetchedAnswer {
  /** Where the answer came from, after redirects. */
  url: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Whether the answer may join the mirror (no hop left its scope). */
  keep: boolean;
}

/** The page or the whole browser died under the visit: render.ts replaces it and tries again. */
export class BrowserGone extends Error {}

// After load, the network must be quiet before the snapshot: networkidle as Puppeteer defines it (no request for
// 500 ms) at the longest, bounded, since analytics beacons never stop. A page with no short timeout pending (see
// TIMERS_SETTLED) has nothing scheduled to start a late request, and is done after SETTLE_QUIET_MS: the time a
// response's handler takes to start the next request, with room for a busy machine.
const QUIET_MS = TIMER_HORIZON_MS;
const SETTLE_QUIET_MS = 100;
const QUIET_MAX_MS = 5_000;
const SCROLL_QUIET_MS = 250;
const SCROLL_QUIET_MAX_MS = 2_000;
const REQUEST_NOTICE_MS = 50;
/** How long a request the page counted (see INSTRUMENT) may take to be reported before the snapshot goes without it. */
const UNREPORTED_REQUEST_MAX_MS = 1_000;
/** How often that wait reads the page's count again (it drops when the browser reports a request blocked). */
const UNREPORTED_RECOUNT_MS = 100;
const IMAGE_WAIT_MAX_MS = 1_500;
/** Bodies still arriving this long after the snapshot are left out. */
const CAPTURE_GRACE_MS = 2_000;
/** Past the timeout, the snapshot gets this long (at most the timeout again); a page that cannot give it (a script in an endless loop) is closed. */
const SNAPSHOT_GRACE_MS = 5_000;
const CLEANUP_TIMEOUT_MS = 2_000;
/** Requisites fetched here and kept; media (range requests), event streams and the like go to the network untouched. */
const FETCHED_HERE = new Set(['stylesheet', 'image', 'font', 'script', 'fetch', 'xhr']);
const MAX_REDIRECTS = 10;
/** Transport headers describe the bytes on the wire, not the decoded body the browser is handed. */
const WIRE_HEADERS = new Set(['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive']);

/** Routes the requests of one page to a handler (undefined: none, they are aborted); render.ts owns the routing. */
export type RouteRequests = (page: Page, handler: ((route: Route) => Promise<void>) | undefined) => void;

export function visitPage(page: Page, job: RenderJob, limits: VisitLimits, routeRequests: RouteRequests): Promise<RenderedPage> {
  return new Visit(page, job, limits, routeRequests).run();
}

class Visit {
  private readonly url: string;
  private readonly deadline: number;
  private readonly network = new NetworkActivity();
  private readonly captures: Promise<CapturedResponse | undefined>[] = [];
  /** Requests whose response is to be captured, with who to tell what became of it (told once). */
  private readonly capturing = new Map<Request, (response: CapturedResponse | undefined) => void>();
  private readonly navigations: string[] = [];
  private documentServed = false;
  /** The page still shows the previous visit's document (the pool reuses pages without blanking them). */
  private readonly reused: boolean;
  /** The visit ended with a settled page, so the next visit may navigate from it directly. */
  private clean = false;
  private collected = false;
  private ended = false;
  private crashed = false;
  private hardTimeout = false;
  /** Rejects when the page crashes or closes, or the job is called off, so no step waits on a dead page. */
  private readonly gone: Promise<never>;
  private markGone: (error: unknown) => void = () => undefined;

  constructor(
    private readonly page: Page,
    private readonly job: RenderJob,
    private readonly limits: VisitLimits,
    private readonly routeRequests: RouteRequests,
  ) {
    this.url = job.document.finalUrl;
    this.reused = page.url() !== 'about:blank';
    this.deadline = performance.now() + limits.timeoutMs;
    this.gone = new Promise<never>((_, reject) => (this.markGone = reject));
    this.gone.catch(() => undefined);
  }

  async run(): Promise<RenderedPage> {
    const { page } = this;
    const onRequest = (request: Request) => this.network.started(request, isScriptRequest(request, page));
    const onDone = (request: Request) => this.network.finished(request);
    const onFailed = (request: Request) => {
      this.network.finished(request);
      this.tell(request, undefined);
    };
    const onCrash = () => {
      this.crashed = true;
      this.markGone(new BrowserGone(`the page crashed rendering ${this.url}`));
    };
    const onClose = () => this.markGone(new BrowserGone(`the browser page closed while rendering ${this.url}`));
    const onAbort = () => this.markGone(this.job.signal?.reason);
    this.job.signal?.addEventListener('abort', onAbort, { once: true });
    if (this.job.signal?.aborted) onAbort();
    page.on('request', onRequest).on('requestfinished', onDone).on('requestfailed', onFailed);
    page.on('crash', onCrash).on('close', onClose);
    const guard = setTimeout(() => {
      this.hardTimeout = true;
      void page.close().catch(() => undefined);
    }, this.limits.timeoutMs + Math.min(SNAPSHOT_GRACE_MS, this.limits.timeoutMs));
    this.routeRequests(page, (route) => this.route(route));
    try {
      const rendered = await this.render();
      this.clean = rendered.incomplete === undefined;
      return rendered;
    } catch (error) {
      throw this.classify(error);
    } finally {
      clearTimeout(guard);
      this.job.signal?.removeEventListener('abort', onAbort);
      this.ended = true;
      this.network.releaseAll();
      page.off('request', onRequest).off('requestfinished', onDone).off('requestfailed', onFailed);
      for (const request of [...this.capturing.keys()]) this.tell(request, undefined);
      page.off('crash', onCrash).off('close', onClose);
      this.routeRequests(page, undefined);
      if (!this.clean) await this.cleanUp();
    }
  }

  private async render(): Promise<RenderedPage> {
    const { page } = this;
    await this.step(page.goto(this.url, { waitUntil: 'commit', timeout: this.remaining() }));
    // The document's own load event: Playwright's load state would wait on a navigation we stopped instead.
    const load = (page.evaluate(LOADED) as Promise<boolean>).catch((error: unknown) => {
      if (this.crashed || page.isClosed()) throw error;
      return false;
    });
    const loaded = await this.step(within(load, this.remaining(), false));
    const seconds = this.limits.timeoutMs / 1000;
    let incomplete = loaded ? undefined : `it did not finish loading within the render timeout (${seconds} s)`;
    if (loaded) {
      await this.settle();
      if (!(await this.scroll())) incomplete = `the render timeout (${seconds} s) ended its scrolling before the page's end`;
      if (this.remaining() > 1) await this.step(page.evaluate(WAIT_FOR_IMAGES(Math.min(IMAGE_WAIT_MAX_MS, this.remaining()))));
    }
    const html = await this.step(page.evaluate(SNAPSHOT(this.url)) as Promise<string>);
    const captured = await this.collectCaptures();
    return {
      source: { ...this.job.document, contentType: 'text/html', charset: 'utf-8', body: Buffer.from(html, 'utf8'), via: 'browser' },
      captured,
      navigations: this.navigations,
      incomplete,
    };
  }

  /**
   * Waits after load until the network is quiet: SETTLE_QUIET_MS without a request when the page has no short timeout
   * pending, else until its timeouts ran and the network is quiet again, or QUIET_MS without a request (Puppeteer's
   * networkidle, which this outlasts only for a request the page made that the browser has not reported yet), at
   * most QUIET_MAX_MS.
   */
  private async settle(): Promise<void> {
    const giveUpAt = performance.now() + Math.min(QUIET_MAX_MS, this.remaining());
    let since = 0;
    let awaited = 0;
    for (;;) {
      if (!(await this.step(this.network.waitForQuiet(SETTLE_QUIET_MS, giveUpAt - performance.now(), since)))) return;
      const quietMs = this.network.quietForMs();
      const changes = this.network.changes;
      const { timersRan, requestsStarted } = await this.step(this.page.evaluate(TIMERS_SETTLED(Math.max(0, Math.ceil(QUIET_MS - quietMs)))) as Promise<{ timersRan: boolean; requestsStarted: number }>);
      // Requests the page made that the browser has not reported yet (late on a busy machine): waited for once each,
      // briefly, since one the browser never sends (a bad URL, a data: URL) is never reported.
      if (requestsStarted > this.network.scriptRequests && requestsStarted > awaited) {
        awaited = requestsStarted;
        await this.waitForUnreported(requestsStarted, Math.min(UNREPORTED_REQUEST_MAX_MS, giveUpAt - performance.now()));
        since = performance.now();
        continue;
      }
      if (quietMs >= QUIET_MS) return;
      if (!timersRan && this.network.changes === changes) return;
      // A timer that just ran may have started a request the browser has not reported yet.
      since = performance.now();
    }
  }

  /**
   * Waits until the browser has reported as many of the page's fetch and XMLHttpRequest sends as the page counted, at
   * most `maxMs`, reading the count again every UNREPORTED_RECOUNT_MS: a request the page's Content Security Policy
   * blocked comes off it only once the browser has fired its violation event.
   */
  private async waitForUnreported(count: number, maxMs: number): Promise<void> {
    const giveUpAt = performance.now() + maxMs;
    for (;;) {
      const sliceEndsAt = Math.min(giveUpAt, performance.now() + UNREPORTED_RECOUNT_MS);
      if (await this.step(this.network.waitForScriptRequests(count, sliceEndsAt - performance.now()))) return;
      // False before the slice ended: the network watch was released, the page is going.
      if (performance.now() >= giveUpAt || performance.now() < sliceEndsAt) return;
      count = await this.step(this.page.evaluate(REQUESTS_STARTED) as Promise<number>);
    }
  }

  /**
   * Scrolls through the page so lazy images and infinite lists load: down to the bottom, then, once the network is
   * quiet, on from there as long as the page grew, until the steps run out (the bound on an endless feed). A page
   * that cannot load anything on scroll is left alone. False when the timeout cut the scrolling short.
   */
  private async scroll(): Promise<boolean> {
    if (this.limits.scrollSteps === 0 || !(await this.step(this.page.evaluate(MAY_LOAD_ON_SCROLL)))) return true;
    for (let stepsLeft = this.limits.scrollSteps; stepsLeft > 0; ) {
      if (this.remaining() <= 1) return false;
      const changesBefore = this.network.changes;
      const { steps, height, requestsStarted } = await this.step(this.page.evaluate(SCROLL_THROUGH(stepsLeft)) as Promise<{ steps: number; height: number; requestsStarted: number }>);
      stepsLeft -= steps;
      // The requests a scroll set off are reported a moment after the frames that set them off, and on a busy
      // machine more than a moment: those the page's scripts made (counted in the page) are waited for from now.
      await this.step(delay(REQUEST_NOTICE_MS));
      if (requestsStarted > 0 || this.network.changes !== changesBefore || this.network.busy()) {
        const since = requestsStarted > 0 ? performance.now() : 0;
        await this.step(this.network.waitForQuiet(SCROLL_QUIET_MS, Math.min(SCROLL_QUIET_MAX_MS, this.remaining()), since));
      }
      if (steps === 0 || (await this.step(this.page.evaluate(PAGE_HEIGHT) as Promise<number>)) <= height) break;
    }
    await this.step(this.page.evaluate('window.scrollTo(0, 0)'));
    return true;
  }

  private async route(route: Route): Promise<void> {
    const request = route.request();
    try {
      if (this.ended) return await route.abort();
      const url = request.url();
      if (!/^https?:/i.test(url)) return await route.continue();
      if (request.isNavigationRequest() && request.frame().parentFrame() === null) {
        // The previous document of a reused page may still navigate or load until ours replaces it: not this page's.
        if (!this.documentServed && this.reused && !sameDocumentUrl(url, this.url)) return await route.abort('aborted');
        if (!this.documentServed) {
          this.documentServed = true;
          const { status, headers, body } = this.job.document;
          return await route.fulfill({ status, headers: withoutWireHeaders(headers), body });
        }
        this.navigations.push(url);
        return await route.abort('aborted');
      }
      if (!this.documentServed) return await route.abort('aborted');
      const decision = await this.job.decide({ url, method: request.method(), resourceType: request.resourceType() });
      if (this.ended) return await route.abort();
      if (decision.action === 'abort') return await route.abort('blockedbyclient');
      if (decision.action === 'fulfil') {
        if (decision.capture) this.captures.push(Promise.resolve(decision.capture));
        return await route.fulfill({ status: decision.status, headers: decision.headers, body: decision.body });
      }
      const extra = decision.headers && Object.keys(decision.headers).length > 0 ? decision.headers : undefined;
      const fetchHere = decision.capture && FETCHED_HERE.has(request.resourceType());
      if (fetchHere) this.capturing.set(request, decision.onCaptured ?? (() => undefined));
      else if (decision.capture) decision.onCaptured?.(undefined);
      const send = async (): Promise<void> => {
        if (this.ended) return route.abort();
        const headers = extra ? { ...(await request.allHeaders()), ...extra } : undefined;
        if (fetchHere) return this.fetchAndCapture(route, request, headers);
        await route.continue(headers ? { headers } : undefined);
        await this.network.settled(request);
      };
      await (decision.throttle ? decision.throttle(send) : send());
    } catch {
      // The page moved on or closed while this request waited; nothing is left to answer.
    }
  }

  /**
   * Fetches a requisite for the page ourselves (through Playwright, with the page's headers and cookies), keeps the
   * answer and hands it to the page. Reading bodies back from the browser would depend on its response buffer, which
   * drops some (large files, images that fail to decode) and then has them fetched again under another User-Agent.
   */
  private async fetchAndCapture(route: Route, request: Request, headers: Record<string, string> | undefined): Promise<void> {
    const fetched = this.fetchHops(route, request, headers);
    const captured = fetched.then((answer) => (answer?.keep ? this.asCaptured(answer) : undefined), () => undefined);
    this.captures.push(captured);
    void captured.then((response) => this.tell(request, this.collected ? undefined : response));
    const answer = await fetched.catch(() => undefined);
    if (answer === undefined) return route.abort('failed');
    await route.fulfill({ status: answer.status, headers: withoutWireHeaders(answer.headers), body: answer.body });
  }

  /**
   * The answer for a request, following redirects one hop at a time so that each target passes decide() as a link
   * would: undefined when a hop is refused. `keep` is false when a hop left the mirror's scope.
   */
  private async fetchHops(route: Route, request: Request, headers: Record<string, string> | undefined): Promise<FetchedAnswer | undefined> {
    let url = request.url();
    let keep = true;
    for (let hop = 0; ; hop++) {
      const response = await route.fetch({ url, maxRedirects: 0, timeout: this.remaining(), ...(headers ? { headers } : {}) });
      try {
        const status = response.status();
        const location = response.headers().location;
        if (this.job.archive) await this.archive(url, request, headers, response);
        if (status >= 300 && status < 400 && location !== undefined && hop < MAX_REDIRECTS) {
          url = new URL(location, url).href;
          const next = await this.job.decide({ url, method: 'GET', resourceType: request.resourceType() });
          if (next.action === 'fulfil') return { url, status: next.status, headers: next.headers, body: next.body, keep: false };
          if (next.action === 'abort') return undefined;
          keep &&= next.capture;
          continue;
        }
        return { url, status, headers: response.headers(), body: await response.body(), keep };
      } finally {
        await response.dispose(); // Playwright keeps every fetched body until then
      }
    }
  }

  /** Hands one network answer to the archive, with the request headers it was fetched with. */
  private async archive(url: string, request: Request, headers: Record<string, string> | undefined, response: APIResponse): Promise<void> {
    const sent = headers ?? (await request.allHeaders());
    const requestHeaders = Object.fromEntries(Object.entries(sent).filter(([name]) => !name.startsWith(':')));
    const body = await response.body().catch(() => undefined);
    await this.job.archive!({ url, requestHeaders, status: response.status(), responseHeaders: response.headers(), body });
  }

  private asCaptured(answer: FetchedAnswer): CapturedResponse | undefined {
    // A 5xx may pass: the crawl's own fetch retries it. A 4xx is the origin's last word.
    if (!isCapturedStatus(answer.status) || answer.body.length > this.limits.maxBytes) return undefined;
    const { contentType, charset } = parseContentType(answer.headers['content-type']);
    return { url: answer.url, status: answer.status, headers: answer.headers, contentType, charset, body: answer.body };
  }

  private tell(request: Request, captured: CapturedResponse | undefined): void {
    const onCaptured = this.capturing.get(request);
    if (onCaptured === undefined) return;
    this.capturing.delete(request);
    onCaptured(captured);
  }

  /** The bodies that have arrived, waiting a little for those still streaming. */
  private async collectCaptures(): Promise<CapturedResponse[]> {
    const arrived: (CapturedResponse | undefined)[] = [];
    const all = Promise.all(this.captures.map((capture, index) => capture.then((value) => void (arrived[index] = value))));
    await within(all.then(() => undefined), CAPTURE_GRACE_MS, undefined);
    this.collected = true;
    return arrived.filter((value): value is CapturedResponse => value !== undefined);
  }

  /**
   * Leaves a page that did not settle blank for its next visit; a page that will not go blank is closed (the pool drops
   * it). A settled page is left as it is: the next visit's navigation replaces it, and a navigation saved here is one
   * less per page.
   */
  private async cleanUp(): Promise<void> {
    if (this.page.isClosed()) return;
    try {
      await this.page.goto('about:blank', { timeout: CLEANUP_TIMEOUT_MS });
    } catch {
      await this.page.close().catch(() => undefined);
    }
  }

  private step<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.gone]);
  }

  private remaining(): number {
    return Math.max(1, Math.round(this.deadline - performance.now()));
  }

  private classify(error: unknown): unknown {
    if (this.job.signal?.aborted) return this.job.signal.reason;
    if (this.hardTimeout) {
      return new SitemirrorError('TIMEOUT', `the page did not answer within the render timeout (${this.limits.timeoutMs / 1000} s) and a grace period; a script may be stuck in a loop`, { cause: error });
    }
    if (error instanceof BrowserGone) return error;
    const message = messageOf(error);
    if (this.crashed || this.page.isClosed() || /crash|closed|disconnected/i.test(message)) return new BrowserGone(`${message} (rendering ${this.url})`);
    if (/timeout/i.test(message)) return new SitemirrorError('TIMEOUT', `${this.url} did not start rendering within ${this.limits.timeoutMs / 1000} s`, { cause: error });
    return new SitemirrorError('BROWSER', `rendering ${this.url} failed: ${message.split('\n')[0]}`, { cause: error });
  }
}

/** The promise's value, or `fallback` once `ms` passed. */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<T>((done) => (timer = setTimeout(() => done(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether two URLs name the same document: the browser's serialisation may differ from ours in escapes and fragment. */
function sameDocumentUrl(a: string, b: string): boolean {
  const comparable = (url: string): string => {
    let href: string;
    try {
      href = new URL(url).href.replace(/#.*$/, '');
    } catch {
      return url;
    }
    try {
      return decodeURI(href);
    } catch {
      return href; // a lone % escape
    }
  };
  return comparable(a) === comparable(b);
}

function isCapturedStatus(status: number): boolean {
  return status === 200 || (status >= 400 && status < 500);
}

function withoutWireHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !WIRE_HEADERS.has(name)));
}

/** A fetch() or XMLHttpRequest of the page's own document: those INSTRUMENT counts in the page. */
function isScriptRequest(request: Request, page: Page): boolean {
  const type = request.resourceType();
  if (type !== 'fetch' && type !== 'xhr') return false;
  try {
    return request.frame() === page.mainFrame();
  } catch {
    return false; // a service worker's request has no frame
  }
}
