// Rendering pages in Chromium through playwright-core: one browser, a bounded pool of pages, crash recovery.
// What happens on one page (navigation, quiet periods, scrolling, the snapshot) is in visit.ts.
// playwright-core is heavy: it is imported only when a crawl renders (the type imports below vanish at build).
import { lookup } from 'node:dns/promises';
import { accessSync, constants } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { BROWSER_INSTALL_HINT, describeBrowser, findBrowser, systemBrowserPaths, type BrowserChoice } from './browser.js';
import type { CrawlOptions } from './config.js';
import { SitemirrorError, messageOf } from './errors.js';
import { INSTRUMENT } from './inpage.js';
import type { RenderJob, RenderedPage, VisitLimits } from './rendertypes.js';
import { BrowserGone, visitPage, type RouteRequests } from './visit.js';

export type { ArchivedExchange, CapturedResponse, RenderJob, RenderRequest, RenderedPage, RequestDecision } from './rendertypes.js';

/** Debian's Chromium runs as root only without its sandbox; the rest keeps a headless crawl quiet and lean. */
export const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A render that meets a crashed page or browser is tried once more on a fresh one. */
const RENDER_ATTEMPTS = 2;

export interface RendererOptions extends VisitLimits {
  executablePath: string;
  /** Pages rendered at once; the crawl passes its concurrency. */
  pages: number;
  userAgent: string;
  /** --cookie: set for the seed's site only, as a browser would hold it. */
  cookie?: { url: string; header: string };
  /** --no-check-certificate: the browser accepts any TLS certificate too. */
  acceptAnyCertificate?: boolean;
  /** The site lives on a loopback or private address: its pages may load from their local neighbours (see startRenderer). */
  localNetwork?: boolean;
  /** Starts the browser with these arguments. Default: playwright-core's chromium.launch; tests pass one to reach the browser. */
  launch?: (executablePath: string, args: string[]) => Promise<Browser>;
}

/**
 * The renderer a crawl uses, per --render: undefined for never, and for auto when no browser is found or none
 * starts (one warning says so, with how to install one); always without a browser is an error. Says once which
 * browser renders.
 */
export async function startRenderer(
  options: CrawlOptions,
  say: { info(message: string): void; warn(message: string): void },
  locate: (explicitPath: string | undefined) => Promise<BrowserChoice | undefined> = locateBrowser,
): Promise<PageRenderer | undefined> {
  if (options.render === 'never') return undefined;
  const choice = await locate(options.browserPath);
  if (choice === undefined) {
    if (options.render === 'always') throw new SitemirrorError('USAGE', `--render always: no Chromium or Chrome found; ${BROWSER_INSTALL_HINT}`);
    say.warn(`no Chromium or Chrome found, so pages are saved as the server sends them, without running their scripts; to render them, ${BROWSER_INSTALL_HINT}`);
    return undefined;
  }
  try {
    const renderer = await PageRenderer.launch({
      executablePath: choice.executablePath,
      pages: options.concurrency,
      timeoutMs: options.renderTimeoutMs,
      scrollSteps: options.scrollSteps,
      maxBytes: options.maxFileBytes,
      userAgent: options.userAgent,
      acceptAnyCertificate: !options.checkCertificates,
      // We hand the browser each page ourselves, so it cannot know the page's address and takes it for public; Local
      // Network Access then refuses the page's requests to other loopback or private hosts. A site on such an address
      // may reach its neighbours, as in a browser that fetched it; a public site keeps the protection.
      localNetwork: await onLocalNetwork(options.seed),
      ...(options.cookie ? { cookie: { url: options.seed, header: options.cookie } } : {}),
    });
    say.info(`rendering pages with ${describeBrowser(choice)}`);
    return renderer;
  } catch (error) {
    if (options.render === 'always') throw error;
    say.warn(`${messageOf(error)}; pages are saved as the server sends them, without running their scripts`);
    return undefined;
  }
}

/** The browser to render with: --browser, Playwright's own Chromium, or a system one (see browser.ts). */
export async function locateBrowser(explicitPath: string | undefined): Promise<BrowserChoice | undefined> {
  const { chromium } = await import('playwright-core');
  let playwrightPath: string | undefined;
  try {
    playwrightPath = chromium.executablePath();
  } catch {
    playwrightPath = undefined; // no browser registry for this platform
  }
  return findBrowser({ explicitPath, playwrightPath, systemPaths: systemBrowserPaths(process.platform), exists: isExecutable });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** One launched browser and the context every page shares (cookies, service workers blocked). */
interface Session {
  browser: Browser;
  context: BrowserContext;
}

interface PooledPage {
  page: Page;
  session: Session;
}

export class PageRenderer {
  readonly #options: RendererOptions;
  /** The request handler of each page's visit in progress. */
  readonly #handlers = new WeakMap<Page, (route: Route) => Promise<void>>();
  readonly #routeRequests: RouteRequests = (page, handler) => {
    if (handler) this.#handlers.set(page, handler);
    else this.#handlers.delete(page);
  };
  #session: Promise<Session> | undefined;
  readonly #idle: PooledPage[] = [];
  #busy = 0;
  #waiters: (() => void)[] = [];
  #closed = false;

  private constructor(options: RendererOptions) {
    this.#options = options;
  }

  /** Starts the browser now, so a browser that cannot start is known before the crawl begins. */
  static async launch(options: RendererOptions): Promise<PageRenderer> {
    const renderer = new PageRenderer(options);
    await renderer.#currentSession();
    return renderer;
  }

  /**
   * Renders one page and returns its DOM with what it loaded. A crash of the page or of the whole browser is met
   * with a fresh one and a second try; then the render fails with a BROWSER error. A page that does not settle in
   * time is saved as it stood (`incomplete`); one that cannot even be shown fails with TIMEOUT.
   */
  async render(job: RenderJob): Promise<RenderedPage> {
    let crash: unknown;
    for (let attempt = 1; attempt <= RENDER_ATTEMPTS; attempt++) {
      const pooled = await this.#acquire();
      let healthy = false;
      try {
        const rendered = await visitPage(pooled.page, job, this.#options, this.#routeRequests);
        healthy = true;
        return rendered;
      } catch (error) {
        if (!(error instanceof BrowserGone)) throw error;
        crash = error;
      } finally {
        await this.#release(pooled, healthy);
      }
    }
    throw new SitemirrorError('BROWSER', `the browser crashed ${RENDER_ATTEMPTS} times rendering ${job.document.finalUrl}: ${messageOf(crash)}`, { cause: crash });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const session = await this.#session?.catch(() => undefined);
    this.#session = undefined;
    await session?.browser.close().catch(() => undefined);
  }

  #currentSession(): Promise<Session> {
    if (this.#closed) return Promise.reject(new SitemirrorError('BROWSER', 'the renderer is closed'));
    if (this.#session === undefined) {
      const starting = this.#startSession();
      this.#session = starting;
      starting.catch(() => {
        if (this.#session === starting) this.#session = undefined;
      });
    }
    return this.#session;
  }

  async #startSession(): Promise<Session> {
    const { executablePath, userAgent, cookie, acceptAnyCertificate } = this.#options;
    let browser: Browser;
    try {
      const args = this.#options.localNetwork ? [...LAUNCH_ARGS, '--disable-features=LocalNetworkAccessChecks'] : LAUNCH_ARGS;
      browser = await (this.#options.launch ?? launchChromium)(executablePath, args);
    } catch (cause) {
      throw new SitemirrorError('BROWSER', `cannot start the browser at ${executablePath}: ${firstLine(messageOf(cause))}`, { cause });
    }
    try {
      // Service workers would answer later requests from their cache, unseen by us (and keep pages alive).
      const context = await browser.newContext({ userAgent, serviceWorkers: 'block', acceptDownloads: false, ignoreHTTPSErrors: acceptAnyCertificate === true });
      await context.addInitScript(INSTRUMENT);
      // One route for the whole context, so a request of a popup or of a page between visits is refused, not sent.
      await context.route('**/*', (route) => this.#route(route));
      if (cookie) await context.addCookies(parseCookieHeader(cookie.header).map(([name, value]) => ({ name, value, url: cookie.url })));
      const session: Session = { browser, context };
      browser.on('disconnected', () => {
        // The next render launches a new browser; pages of this one are dropped as they come back.
        void this.#session?.then((current) => {
          if (current === session) this.#session = undefined;
        }, () => undefined);
      });
      return session;
    } catch (cause) {
      await browser.close().catch(() => undefined);
      throw new SitemirrorError('BROWSER', `cannot set up the browser at ${executablePath}: ${firstLine(messageOf(cause))}`, { cause });
    }
  }

  async #acquire(): Promise<PooledPage> {
    while (this.#busy >= this.#options.pages) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#busy++;
    try {
      const session = await this.#currentSession();
      for (let pooled = this.#idle.pop(); pooled; pooled = this.#idle.pop()) {
        if (pooled.session === session && !pooled.page.isClosed()) return pooled;
        void pooled.page.close().catch(() => undefined);
      }
      const page = await this.#newPage(session);
      return { page, session };
    } catch (error) {
      this.#freeSlot();
      throw error instanceof SitemirrorError ? error : new SitemirrorError('BROWSER', `cannot open a browser page: ${firstLine(messageOf(error))}`, { cause: error });
    }
  }

  async #route(route: Route): Promise<void> {
    let handler: ((route: Route) => Promise<void>) | undefined;
    try {
      handler = this.#handlers.get(route.request().frame().page());
    } catch {
      handler = undefined; // a request without a frame (a worker's)
    }
    if (handler) return handler(route);
    await route.abort().catch(() => undefined);
  }

  async #newPage(session: Session): Promise<Page> {
    const page = await session.context.newPage();
    // A window.open popup is no page of ours.
    page.on('popup', (popup) => void popup.close().catch(() => undefined));
    return page;
  }

  /** A page that rendered cleanly goes back to the pool; any other is closed (a crashed one cannot be reused). */
  async #release(pooled: PooledPage, healthy: boolean): Promise<void> {
    if (healthy && !this.#closed && !pooled.page.isClosed()) this.#idle.push(pooled);
    else await pooled.page.close().catch(() => undefined);
    this.#freeSlot();
  }

  #freeSlot(): void {
    this.#busy--;
    this.#waiters.shift()?.();
  }
}

async function launchChromium(executablePath: string, args: string[]): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  // The CLI owns the signals: Ctrl-C stops the crawl gracefully, which then closes the browser (Playwright would exit).
  return chromium.launch({ executablePath, headless: true, args, handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false });
}

const LOCAL_NETWORKS = new BlockList();
for (const [network, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) {
  LOCAL_NETWORKS.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) LOCAL_NETWORKS.addSubnet(network, prefix, 'ipv6');

/** Loopback, private, link-local and shared (CGNAT) addresses: what Chromium's Local Network Access calls local. */
export function isLocalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  return mapped ? LOCAL_NETWORKS.check(mapped, 'ipv4') : LOCAL_NETWORKS.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether the seed's host is, or resolves to, a local address (false when it cannot be resolved: the safe side). */
async function onLocalNetwork(seed: string): Promise<boolean> {
  const hostname = new URL(seed).hostname.replace(/^\[(.*)\]$/, '$1');
  try {
    const addresses = isIP(hostname) ? [hostname] : (await lookup(hostname, { all: true })).map((entry) => entry.address);
    return addresses.some(isLocalAddress);
  } catch {
    return false;
  }
}

/** `a=1; b=2` ⇒ [['a', '1'], ['b', '2']] */
export function parseCookieHeader(header: string): [string, string][] {
  return header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair.includes('='))
    .map((pair) => [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1).trim()] as [string, string])
    .filter(([name]) => name !== '');
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
