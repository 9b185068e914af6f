// A real browser for tests: opens mirrored pages from disk (file://) with the network cut off, and origin pages
// over HTTP, and reports what a reader sees. One browser per test file: launchBrowser() in before(), close in after().
//
//   const browser = await launchBrowser();
//   const page = await browser.newPage();
//   const view = await openOffline(page, pathToFileURL(join(site, 'index.html')).href);
//   view.text, view.title, view.images[0].naturalWidth, view.blockedRequests
//   const next = await followLink(page, 'a#next');   // a real click, then the view of the page it opened
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium; CI installs it (see .ci/run). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const NAVIGATION_TIMEOUT_MS = 10_000;

export interface ImageView {
  /** The src attribute as written. */
  src: string;
  /** The URL the browser picked and loaded (from src or a srcset/<picture> candidate); '' when none. */
  currentSrc: string;
  /** 0 when the image did not load (missing file, blocked request, broken bytes); divided by the srcset density. */
  naturalWidth: number;
}

/** What a reader sees of the page shown now. */
export interface PageView {
  /** The document's URL (file:// offline). */
  url: string;
  title: string;
  /** document.body.innerText: the visible text, as laid out. */
  text: string;
  /** Every <img> in document order. */
  images: ImageView[];
  /** http(s) requests openOffline blocked on this page so far, links followed included (empty for openOnline). */
  blockedRequests: string[];
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: LAUNCH_ARGS });
}

/** Runs fn with a browser of its own, closed afterwards whatever happens. */
export async function withBrowser<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await launchBrowser();
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

const blockedByPage = new WeakMap<Page, string[]>();

/**
 * Opens a file:// URL with every http(s) request aborted (and recorded in blockedRequests), so the view shows only
 * what the mirror itself holds. The page stays offline for the rest of its life, links followed included.
 */
export async function openOffline(page: Page, fileUrl: string): Promise<PageView> {
  if (!fileUrl.startsWith('file:')) throw new Error(`openOffline takes a file:// URL, not ${fileUrl}`);
  if (!blockedByPage.has(page)) {
    const blocked: string[] = [];
    blockedByPage.set(page, blocked);
    await page.route(/^https?:/i, (route) => {
      blocked.push(route.request().url());
      return route.abort('blockedbyclient');
    });
  }
  await page.goto(fileUrl, { waitUntil: 'load', timeout: NAVIGATION_TIMEOUT_MS });
  return viewOf(page);
}

/** Opens a page over the network as the origin serves it, for comparison with the mirror. */
export async function openOnline(page: Page, url: string): Promise<PageView> {
  await page.goto(url, { waitUntil: 'load', timeout: NAVIGATION_TIMEOUT_MS });
  return viewOf(page);
}

/** Clicks the element a selector names (a link) and returns the view of the document it opened. */
export async function followLink(page: Page, selector: string): Promise<PageView> {
  const before = page.url();
  await page.click(selector, { timeout: NAVIGATION_TIMEOUT_MS });
  await page.waitForURL((url) => url.href !== before, { waitUntil: 'load', timeout: NAVIGATION_TIMEOUT_MS });
  return viewOf(page);
}

/** The view of the page as shown now. */
export async function viewOf(page: Page): Promise<PageView> {
  const seen = await page.evaluate(() => ({
    title: document.title,
    text: document.body?.innerText ?? '',
    images: Array.from(document.images, (image) => ({ src: image.getAttribute('src') ?? '', currentSrc: image.currentSrc, naturalWidth: image.naturalWidth })),
  }));
  return { url: page.url(), ...seen, blockedRequests: [...(blockedByPage.get(page) ?? [])] };
}
