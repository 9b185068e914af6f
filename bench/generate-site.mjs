#!/usr/bin/env node
// A generated website for benchmarks, served from its own process so its CPU is never charged to a crawler.
// Every page is a pure function of its index: the same site for every tool and every round, at any size.
//
//   node bench/generate-site.mjs --pages 1000 --latency 50ms --port 0
//   node bench/generate-site.mjs --pages 50 --media 12 --media-mb 50   pages 0–11 each also play a 50 MB video
//
// Prints `listening http://127.0.0.1:PORT` on stdout once it accepts connections. Each HTML page carries
// `<meta name="bench-page" content="INDEX">` near the top, so a mirror's files can be mapped back to pages
// whatever a tool named them.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    pages: { type: 'string', default: '1000' },
    latency: { type: 'string', default: '0' },
    port: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    media: { type: 'string', default: '0' },
    'media-mb': { type: 'string', default: '50' },
  },
});
const PAGES = Number(values.pages);
const LATENCY_MS = Number(String(values.latency).replace(/ms$/, ''));
const SEED = Number(values.seed);
/** Large files: page i < MEDIA has a <video> of MEDIA_MB MB, streamed from a 1 MB block of its own. */
const MEDIA = Number(values.media);
const MEDIA_MB = Number(values['media-mb']);
const SECTIONS = 10;
const SUBSECTIONS = 10;
const CATEGORIES = 100;
const SHARED_IMAGES = 40;
if (!Number.isInteger(PAGES) || PAGES < 1 || !Number.isFinite(LATENCY_MS) || LATENCY_MS < 0) {
  console.error('usage: generate-site.mjs --pages N --latency MS --port P');
  process.exit(2);
}

/** A small deterministic PRNG (mulberry32), so a page's links and size never change between runs. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Five URL shapes: query-string pages, nested .html files, extensionless pages, folder URLs, a flat folder.
function pageUrl(index) {
  if (index === 0) return '/';
  const section = index % SECTIONS;
  const sub = Math.floor(index / SECTIONS) % SUBSECTIONS;
  switch (index % 5) {
    // Paginated per category, as real sites paginate: one path per category, so a 100,000-page site has 200 query
    // variants per path, well under the crawlers' default trap limits (sitemirror's --max-query-variants is 1000).
    case 0: return `/c${Math.floor(index / 5) % CATEGORIES}/list?page=${index}`;
    case 1: return `/s${section}/t${sub}/page-${index}.html`;
    case 2: return `/s${section}/page-${index}`;
    case 3: return `/s${section}/t${sub}/item-${index}/`;
    default: return `/articles/page-${index}.html`;
  }
}

function pageIndexOf(pathname, search) {
  if (pathname === '/' && search === '') return 0;
  let match;
  if (/^\/c\d+\/list$/.test(pathname) && (match = /^\?page=(\d+)$/.exec(search))) return Number(match[1]);
  if ((match = /^\/s\d+\/t\d+\/page-(\d+)\.html$/.exec(pathname))) return Number(match[1]);
  if ((match = /^\/s\d+\/page-(\d+)$/.exec(pathname))) return Number(match[1]);
  if ((match = /^\/s\d+\/t\d+\/item-(\d+)\/$/.exec(pathname))) return Number(match[1]);
  if ((match = /^\/articles\/page-(\d+)\.html$/.exec(pathname))) return Number(match[1]);
  return -1;
}

const WORDS = 'mirror crawler origin offline archive request response latency stylesheet image anchor document folder query header cache socket stream buffer parser render'.split(' ');
/** A pool of paragraphs, picked per page: building 40 KB from scratch per request would make the server the bottleneck. */
const PARAGRAPHS = Array.from({ length: 64 }, (_, p) => {
  const next = random(p + 1000 * SEED);
  const words = Array.from({ length: 60 + Math.floor(next() * 60) }, () => WORDS[Math.floor(next() * WORDS.length)]);
  return `<p>${words.join(' ')}.</p>`;
});

function escapeHtml(text) {
  return text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
}

function renderPage(index) {
  const next = random(index * 7919 + SEED);
  const url = pageUrl(index);
  // Links: a binary tree makes every page reachable within log2(N) hops; the rest are random cross-links.
  const targets = new Set();
  for (const child of [2 * index + 1, 2 * index + 2]) if (child < PAGES) targets.add(child);
  if (index > 0) targets.add(Math.floor((index - 1) / 2));
  targets.add(0);
  const linkCount = 20 + Math.floor(next() * 31);
  while (targets.size < Math.min(linkCount, PAGES)) targets.add(Math.floor(next() * PAGES));
  const section = index % SECTIONS;
  const sharedImages = [0, 1, 2, 3].map(() => Math.floor(next() * SHARED_IMAGES));
  const targetBytes = 20_000 + Math.floor(next() * 40_000);
  const head = [
    '<!doctype html>',
    '<html lang="en"><head>',
    `<meta name="bench-page" content="${index}">`,
    '<meta charset="utf-8">',
    `<title>Page ${index}</title>`,
    '<link rel="stylesheet" href="/assets/site.css">',
    `<link rel="stylesheet" href="/assets/section-${section}.css">`,
    index % 10 === 0 ? `<link rel="stylesheet" href="/css/page-${index}.css">` : '',
    '</head><body>',
    `<header><img src="/assets/img/logo.png" alt="logo"><nav>`,
    ...Array.from({ length: SECTIONS }, (_, s) => `<a href="${escapeHtml(pageUrl(Math.min(PAGES - 1, s)))}">Section ${s}</a>`),
    '</nav></header><main>',
    `<h1>Page ${index}</h1>`,
    `<img src="/img/p${index}.png" alt="unique">`,
    index < MEDIA ? `<video src="/media/v${index}.mp4" controls></video>` : '',
    ...sharedImages.map((k) => `<img src="/assets/img/shared-${k}.png" alt="shared">`),
  ];
  const links = [...targets].map((target) => `<li><a href="${escapeHtml(pageUrl(target))}">Page ${target}</a></li>`);
  const parts = [...head, '<ul>', ...links, '</ul>'];
  let size = parts.reduce((sum, part) => sum + part.length, 0);
  while (size < targetBytes) {
    const paragraph = PARAGRAPHS[Math.floor(next() * PARAGRAPHS.length)];
    parts.push(paragraph);
    size += paragraph.length;
  }
  parts.push(`</main><footer><a href="${escapeHtml(url)}#top">Top</a></footer></body></html>`);
  return parts.join('\n');
}

/** A small valid-looking PNG with deterministic bytes (the crawlers never decode it). */
function png(seed, size) {
  const next = random(seed);
  const bytes = Buffer.alloc(size);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes);
  for (let i = 8; i < size; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}

const SITE_CSS = `body { font: 16px/1.5 sans-serif; background: url(/assets/img/bg.png); }\n@font-face { font-family: Bench; src: url(/assets/font.woff2) format("woff2"); }\n` +
  Array.from({ length: 200 }, (_, i) => `.c${i} { margin: ${i}px; }`).join('\n');
const SHARED = new Map([
  ['/assets/site.css', { type: 'text/css', body: Buffer.from(SITE_CSS) }],
  ['/assets/img/logo.png', { type: 'image/png', body: png(1, 3000) }],
  ['/assets/img/bg.png', { type: 'image/png', body: png(2, 2000) }],
  ['/assets/font.woff2', { type: 'font/woff2', body: png(3, 12000) }],
  ['/robots.txt', { type: 'text/plain', body: Buffer.from('User-agent: *\nAllow: /\n') }],
]);
for (let s = 0; s < SECTIONS; s++) {
  SHARED.set(`/assets/section-${s}.css`, { type: 'text/css', body: Buffer.from(`.section-${s} { background: url(/assets/img/shared-${s}.png); }\n`) });
}
for (let k = 0; k < SHARED_IMAGES; k++) SHARED.set(`/assets/img/shared-${k}.png`, { type: 'image/png', body: png(100 + k, 1000 + k * 100) });

function resolveResource(pathname, search) {
  const shared = search === '' ? SHARED.get(pathname) : undefined;
  if (shared) return shared;
  let match;
  if (search === '' && (match = /^\/img\/p(\d+)\.png$/.exec(pathname)) && Number(match[1]) < PAGES) {
    return { type: 'image/png', body: png(100_000 + Number(match[1]), 1500 + (Number(match[1]) % 7) * 400) };
  }
  if (search === '' && (match = /^\/css\/page-(\d+)\.css$/.exec(pathname)) && Number(match[1]) < PAGES) {
    return { type: 'text/css', body: Buffer.from(`.page-${match[1]} { background: url(/img/p${match[1]}.png); }\n`) };
  }
  const index = pageIndexOf(pathname, search);
  if (index >= 0 && index < PAGES && pageUrl(index) === pathname + search) {
    return { type: 'text/html; charset=utf-8', body: Buffer.from(renderPage(index)) };
  }
  return undefined;
}

/** A video of MEDIA_MB MB: one deterministic 1 MB block repeated, written as the socket drains. */
function streamMedia(index, request, response) {
  const next = random(500_000 + index);
  const block = Buffer.alloc(1024 ** 2);
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(next() * 256);
  response.writeHead(200, { 'content-type': 'video/mp4', 'content-length': MEDIA_MB * block.length });
  if (request.method === 'HEAD') return void response.end();
  let sent = 0;
  const pump = () => {
    while (sent < MEDIA_MB) {
      sent++;
      if (!response.write(block)) return void response.once('drain', pump);
    }
    response.end();
  };
  pump();
}

let requests = 0;
const server = createServer((request, response) => {
  requests++;
  const url = new URL(request.url ?? '/', 'http://bench');
  const answer = () => {
    const media = url.search === '' && /^\/media\/v(\d+)\.mp4$/.exec(url.pathname);
    if (media && Number(media[1]) < MEDIA) return streamMedia(Number(media[1]), request, response);
    const resource = resolveResource(url.pathname, url.search);
    if (!resource) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': resource.type, 'content-length': resource.body.length });
    response.end(request.method === 'HEAD' ? undefined : resource.body);
  };
  if (LATENCY_MS > 0) setTimeout(answer, LATENCY_MS);
  else answer();
});
server.keepAliveTimeout = 30_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`listening http://127.0.0.1:${server.address().port}\n`);
});
const shutdown = () => {
  process.stderr.write(`generate-site: ${requests} requests served\n`);
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
