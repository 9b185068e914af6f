#!/usr/bin/env node
// Splits a V8 CPU profile of a crawl (node --cpu-prof) into the pipeline's stages, per mirrored page.
//   node bench/stages.mjs PROFILE.cpuprofile PAGES
// Each sample goes to the innermost frame that names a stage, so SQLite lookups made while rewriting count as state.
import { readFileSync } from 'node:fs';

const [file, pagesText] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const pages = Number(pagesText ?? 1);
const STAGES = [
  ['state', (f) => /dist\/state(-[a-z]+)?\.js|better-sqlite3/.test(f.url)],
  ['hash', (f) => /sha256|^digest$/.test(f.functionName) || /internal\/crypto\/hash/.test(f.url)],
  ['write', (f) => /writeAtomic|keepRaw|^write$/.test(f.functionName) && /store\.js/.test(f.url) || /fs\/promises/.test(f.url)],
  ['parse', (f) => /decodeHtml|tokenizeHtml/.test(f.functionName) || /htmlparser2|dist\/htmltokens\.js|encoding-sniffer|iconv-lite/.test(f.url)],
  ['rewrite', (f) => /serialize|applyEdits|rewrittenLink|relativeHref|^render$/.test(f.functionName) && /dist\//.test(f.url)],
  ['extract', (f) => /scan|element|attribute|offer|target/.test(f.functionName) && /dist\/(html|frontier|css|reference|linktable)\.js/.test(f.url)],
  ['fetch', (f) => /dist\/(fetch|http1|http1-parser)\.js|politeness|node:_http|node:net/.test(f.url)],
];
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const totals = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  let stage = null;
  for (let current = id; current !== undefined && stage === null; current = parent.get(current)) {
    const frame = nodes.get(current).callFrame;
    if (frame.functionName === '(idle)') stage = 'idle';
    else if (frame.functionName === '(garbage collector)') stage = 'gc';
    else stage = STAGES.find(([, test]) => test(frame))?.[0] ?? null;
  }
  stage ??= 'other';
  totals.set(stage, (totals.get(stage) ?? 0) + delta);
  if (stage !== 'idle') total += delta;
});
console.log(`| stage | ms per page | share |\n|---|---|---|`);
for (const [stage, micros] of [...totals].sort((a, b) => b[1] - a[1])) {
  if (stage === 'idle') continue;
  console.log(`| ${stage} | ${(micros / 1000 / pages).toFixed(2)} | ${((100 * micros) / total).toFixed(0)}% |`);
}
console.log(`| all (busy) | ${(total / 1000 / pages).toFixed(2)} | 100% |`);
