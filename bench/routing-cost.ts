// What answering a rendered page's requests costs, on the generator's pages and with nothing else done: Playwright's
// routing (what src/visit.ts does; it turns the browser's cache off) against a raw DevTools Fetch session per page,
// which leaves Blink's memory cache on, so some repeated stylesheets and images are not asked for again.
//   node bench/generate-site.mjs --pages 1000 --port 8901 &
//   node --import tsx bench/routing-cost.ts http://127.0.0.1:8901/ [playwright|cdp|none] [PAGES] [BROWSER]
// Both modes answer every request from one in-memory copy of the site (fetched once), so only the routing differs.
// A third, `none`, routes nothing: the browser fetches from the generator with its own cache, Chromium's floor here.
// Prints wall time, requests the handler answered, and CPU of the whole process tree by kind (bench/measure.ts).
import { chromium, type Page } from 'playwright-core';
import { LAUNCH_ARGS } from '../src/render.js';
import { formatKinds, TreeCpu } from './measure.js';

const [seed = 'http://127.0.0.1:8901/', mode = 'playwright', pagesText = '200', browserPath = '/usr/bin/chromium-headless-shell'] = process.argv.slice(2);
if (!['playwright', 'cdp', 'none'].includes(mode)) throw new Error(`mode is playwright, cdp or none, not ${mode}`);
const PAGES = Number(pagesText);
const TABS = 8;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}
const site = new Map<string, Promise<Answer>>();
function answerFor(url: string): Promise<Answer> {
  let answer = site.get(url);
  if (answer === undefined) {
    answer = fetch(url).then(async (response) => ({
      status: response.status,
      // A long freshness for everything but documents, as the mirror would give what it already holds.
      headers: { 'content-type': response.headers.get('content-type') ?? 'application/octet-stream', ...(/text\/html/.test(response.headers.get('content-type') ?? '') ? {} : { 'cache-control': 'max-age=3600' }) },
      body: Buffer.from(await response.arrayBuffer()),
    }));
    site.set(url, answer);
  }
  return answer;
}

/** The first PAGES page URLs in breadth-first order from the seed. */
async function pageUrls(): Promise<string[]> {
  const found = [seed];
  const seen = new Set(found);
  for (let i = 0; i < found.length && found.length < PAGES; i++) {
    const html = (await answerFor(found[i]!)).body.toString('utf8');
    for (const [, href] of html.matchAll(/<a [^>]*href="([^"#]+)"/g)) {
      const url = new URL(href!, found[i]).href;
      if (url.startsWith(seed) && !seen.has(url)) {
        seen.add(url);
        found.push(url);
      }
    }
  }
  return found.slice(0, PAGES);
}

const urls = await pageUrls();
const cpu = new TreeCpu(process.pid);
const startedAt = performance.now();
const browser = await chromium.launch({ executablePath: browserPath, headless: true, args: LAUNCH_ARGS });
const context = await browser.newContext();
let answered = 0;
if (mode === 'none') context.on('request', () => answered++);
if (mode === 'playwright') {
  await context.route('**/*', async (route) => {
    answered++;
    const answer = await answerFor(route.request().url());
    await route.fulfill({ status: answer.status, headers: answer.headers, body: answer.body });
  });
}

async function openTab(): Promise<Page> {
  const page = await context.newPage();
  if (mode === 'cdp') {
    const session = await context.newCDPSession(page);
    session.on('Fetch.requestPaused', (event: { requestId: string; request: { url: string } }) => {
      answered++;
      void answerFor(event.request.url).then((answer) =>
        session.send('Fetch.fulfillRequest', {
          requestId: event.requestId,
          responseCode: answer.status,
          responseHeaders: Object.entries(answer.headers).map(([name, value]) => ({ name, value })),
          body: answer.body.toString('base64'),
        }),
      ).catch(() => undefined);
    });
    await session.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] });
  }
  return page;
}

let next = 0;
await Promise.all(
  Array.from({ length: TABS }, async () => {
    const page = await openTab();
    for (let index = next++; index < urls.length; index = next++) await page.goto(urls[index]!, { waitUntil: 'load' });
  }),
);
await browser.close();
const wallS = (performance.now() - startedAt) / 1000;
const { total, byKind } = cpu.stop();
console.log(
  `${mode}: ${urls.length} pages in ${wallS.toFixed(1)} s (${(urls.length / wallS).toFixed(1)} pages/s), ${answered} requests answered, ` +
    `CPU ${total.toFixed(1)} s (${formatKinds(byKind)})`,
);
