#!/usr/bin/env node
// The HTTP fetcher alone: replays the URLs a mirror fetched with src/fetch.ts's HttpFetcher, 5 at once on one
// caller's signal as in a crawl, bodies read and dropped, and prints its CPU: the first round (the code still cold, as
// in a crawl's fresh process) and rounds 4-12 (warmed up).
//   node bench/generate-site.mjs --pages 1000 --port 8901 &
//   node bin/sitemirror.js crawl http://127.0.0.1:8901/ -o /tmp/m -q --render never
//   node bench/fetcher.mjs /tmp/m [dist folder of the build to measure, ./dist by default]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

const [mirror, dist = 'dist'] = process.argv.slice(2);
if (mirror === undefined) throw new Error('usage: node bench/fetcher.mjs MIRROR_DIR [DIST_DIR]');
const { HttpFetcher } = await import(pathToFileURL(resolve(dist, 'fetch.js')).href);
const db = new Database(resolve(mirror, '.sitemirror', 'state.db'), { readonly: true });
const urls = db.prepare("SELECT url FROM urls WHERE state = 'done'").all().map((row) => row.url);
db.close();
const CONNECTIONS = 5;
const fetcher = new HttpFetcher({ userAgent: 'sitemirror-bench', headers: {}, maxBytes: 50e6, readTimeoutMs: 30_000, connectTimeoutMs: 10_000, maxRedirects: 5, connectionsPerOrigin: CONNECTIONS });
const halt = new AbortController();
const cpuMs = [];
let firstRoundMs = 0;
for (let round = 0; round < 12; round++) {
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (next < urls.length) await fetcher.fetch(urls[next++], { signal: halt.signal, followRedirects: false });
  }));
  const used = process.cpuUsage(before);
  if (round === 0) firstRoundMs = (used.user + used.system) / 1000;
  if (round >= 3) cpuMs.push((used.user + used.system) / 1000);
}
await fetcher.close();
cpuMs.sort((a, b) => a - b);
console.log(`${urls.length} fetches a round, CPU of round 1 (cold): ${firstRoundMs.toFixed(0)} ms (${(firstRoundMs / urls.length * 1000).toFixed(0)} µs a fetch); of rounds 4-12: min ${cpuMs[0].toFixed(0)} ms, median ${cpuMs[4].toFixed(0)} ms (${(cpuMs[4] / urls.length * 1000).toFixed(0)} µs a fetch)`);
