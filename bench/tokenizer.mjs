#!/usr/bin/env node
// htmlparser2's stock tokenizer against sitemirror's IndexOfTokenizer (src/htmltokens.ts), over pages of a running
// site, callbacks doing nothing: what the tokenizing itself costs per page. Needs a build (dist/).
//   node bench/generate-site.mjs --pages 1000 --port 8901 &
//   node bench/tokenizer.mjs http://127.0.0.1:8901/
const seed = process.argv[2] ?? 'http://127.0.0.1:8901/';
const { IndexOfTokenizer, StockTokenizer } = await import('../dist/htmltokens.js');

// The seed and the pages it links to.
const home = await (await fetch(seed)).text();
const pages = [home];
for (const [, href] of [...home.matchAll(/href="([^"#]+)"/g)].slice(0, 80)) {
  const response = await fetch(new URL(href, seed));
  if (response.ok && (response.headers.get('content-type') ?? '').startsWith('text/html')) pages.push(await response.text());
}

const ignore = new Proxy({}, { get: () => () => {} });
const tokenize = (Tokenizer, text) => {
  const tokenizer = new Tokenizer({ decodeEntities: false }, ignore);
  tokenizer.write(text);
  tokenizer.end();
};
const kilobytes = pages.reduce((sum, page) => sum + page.length, 0) / pages.length / 1024;
console.log(`${pages.length} pages, ${kilobytes.toFixed(0)} KB on average`);
const ROUNDS = 30;
for (const [name, Tokenizer] of [['htmlparser2', StockTokenizer], ['IndexOfTokenizer', IndexOfTokenizer], ['htmlparser2', StockTokenizer], ['IndexOfTokenizer', IndexOfTokenizer]]) {
  for (let warm = 0; warm < 3; warm++) for (const page of pages) tokenize(Tokenizer, page);
  const start = process.hrtime.bigint();
  for (let round = 0; round < ROUNDS; round++) for (const page of pages) tokenize(Tokenizer, page);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`${name.padEnd(16)} ${(ms / (ROUNDS * pages.length)).toFixed(3)} ms per page`);
}
