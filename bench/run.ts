// `npm run bench`: sitemirror against wget, wget2 and HTTrack on one generated site, rounds interleaved.
//
//   npm run bench                                   1,000 pages, 0 ms and 50 ms latency, 3 rounds
//   npm run bench -- --pages 300 --rounds 1         a quick look
//   npm run bench -- --scale --pages 100000         sitemirror alone on a big site: memory and pages/s per tenth
//   npm run bench -- --scale --state redis://127.0.0.1:6379/0   the same with the state in Redis (its keys removed after)
//   npm run bench -- --render-rounds 1              one render run instead of one per round
//   npm run bench -- --media 12                     50 pages, 12 of them with a 50 MB video: memory with large files
//   npm run bench -- --keep-node-ca-certs           with NODE_EXTRA_CA_CERTS left set (Node then reads it at every start)
//
// The site is served by bench/generate-site.mjs in its own process. Every tool is timed by GNU time (wall, user +
// system CPU of the whole process tree, peak RSS). Each tool's mirror is mapped back to page indexes (a meta tag
// the generator puts in every page), so the table says whether the tools mirrored the same pages.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { systemBrowserPaths } from '../src/browser.js';
import { aptInstall, formatKinds, measure, median, readMirror, rssOfTree, sitemirrorCrawl, startGenerator, stopGenerator, TreeCpu, versionOf, WGET_FLAGS, type Measurement, type Site } from './measure.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'sitemirror.js');
const { values } = parseArgs({
  options: {
    pages: { type: 'string' },
    // 0 ms first: its CPU figure is the one this VM's hour moves most, and bench/hour.ts starts a run when the hour
    // is fast, which it may not stay for the seven minutes of the 50 ms rounds.
    latency: { type: 'string', default: '0,50' },
    rounds: { type: 'string', default: '3' },
    tools: { type: 'string' },
    'httrack-cap': { type: 'string', default: '40' },
    'render-pages': { type: 'string', default: '500' },
    'render-rounds': { type: 'string' },
    scale: { type: 'boolean', default: false },
    media: { type: 'string', default: '0' },
    'media-mb': { type: 'string', default: '50' },
    work: { type: 'string', default: join(tmpdir(), 'sitemirror-bench') },
    'no-build': { type: 'boolean', default: false },
    'keep-node-ca-certs': { type: 'boolean', default: false },
    state: { type: 'string' },
  },
});
const MEDIA = Number(values.media);
const MEDIA_MB = Number(values['media-mb']);
const PAGES = Number(values.pages ?? (values.scale ? 100_000 : MEDIA > 0 ? 50 : 1000));
const ROUNDS = Number(values.rounds);
const HTTRACK_CAP_S = Number(values['httrack-cap']);
const RENDER_PAGES = Number(values['render-pages']);
const RENDER_ROUNDS = Number(values['render-rounds'] ?? ROUNDS);

interface Tool {
  name: string;
  binary: string;
  debianPackage?: string;
  command(url: string, out: string): string[];
  /** HTTrack crawls a few connections per second on purpose: one capped run per latency, not every round. */
  capped?: boolean;
}

// Plain HTTP, as the peers fetch: render mode is measured on its own below.
const sitemirror = (extra: string[]) => (url: string, out: string) => sitemirrorCrawl(url, out, extra);
const TOOLS: Tool[] = [
  { name: 'sitemirror', binary: process.execPath, command: sitemirror([]) },
  { name: 'sitemirror -c5', binary: process.execPath, command: sitemirror(['-c', '5', '--per-host', '5']) },
  { name: 'wget', binary: 'wget', debianPackage: 'wget', command: (url, out) => ['wget', ...WGET_FLAGS, '-P', out, url] },
  { name: 'wget2 --max-threads=5', binary: 'wget2', debianPackage: 'wget2', command: (url, out) => ['wget2', ...WGET_FLAGS, '--max-threads=5', '-P', out, url] },
  { name: 'httrack', binary: 'httrack', debianPackage: 'httrack', capped: true, command: (url, out) => ['httrack', url, '-O', out, '-q'] },
  {
    name: 'httrack -c8 -%c100 -A… -%!',
    binary: 'httrack',
    debianPackage: 'httrack',
    capped: true,
    command: (url, out) => ['httrack', url, '-O', out, '-q', '-c8', '-%c100', '-A100000000', '-%!'],
  },
];

interface Row {
  tool: string;
  /** --media: how many of the mirror's files have a video's exact size. */
  media?: number;
  runs: Measurement[];
  pages: number;
  files: number;
  bytes: number;
  missing: number[];
}

function startSite(pages: number, latencyMs: number): Promise<Site> {
  return startGenerator(pages, latencyMs, MEDIA > 0 ? ['--media', String(MEDIA), '--media-mb', String(MEDIA_MB)] : []);
}

function availableTools(): Tool[] {
  const wanted = values.tools?.split(',').map((name) => name.trim());
  const chosen = TOOLS.filter((tool) => !wanted || wanted.some((name) => tool.name.startsWith(name)));
  const missing = [...new Set(chosen.filter((tool) => tool.debianPackage && versionOf(tool.binary) === null).map((tool) => tool.debianPackage!))];
  if (missing.length > 0) {
    console.log(`installing ${missing.join(' ')} from Debian…`);
    if (!aptInstall(missing)) console.log(`could not install them; run: sudo apt-get install -y ${missing.join(' ')}  (their rows are skipped)`);
  }
  if (versionOf('/usr/bin/time') === null && !aptInstall(['time'])) throw new Error('GNU time is needed: sudo apt-get install -y time');
  return chosen.filter((tool) => versionOf(tool.binary) !== null);
}

/**
 * Each run writes into a folder of its own, and the folders are removed only when the bench ends: on an ext4
 * without a journal (this VM's disk) the inodes of files deleted in the last minute are skipped one by one when new
 * files are created, which added up to 4 s of system CPU to whichever tool ran after a deletion.
 */
let runCount = 0;
async function runOnce(tool: Tool, url: string): Promise<{ measurement: Measurement; contents: Awaited<ReturnType<typeof readMirror>> }> {
  const out = join(values.work!, 'mirrors', `${++runCount}-${tool.name.replace(/[^a-z0-9]+/gi, '-')}`);
  await mkdir(out, { recursive: true });
  const measurement = await measure(tool.command(url, out), { cwd: out, ...(tool.capped ? { timeoutS: HTTRACK_CAP_S } : {}) });
  const contents = await readMirror(out);
  return { measurement, contents };
}

function format(number: number, digits = 1): string {
  return Number.isFinite(number) ? number.toFixed(digits) : '–';
}

function printTable(rows: Row[], pages: number): void {
  const base = rows.find((row) => row.tool === 'sitemirror');
  const baseWall = base ? median(base.runs.map((run) => run.wallS)) : NaN;
  const baseCpu = base ? median(base.runs.map((run) => run.cpuS)) : NaN;
  const header = ['tool', 'pages', 'files', 'MB', 'wall s', 'CPU s', 'CPU ms/page', 'peak RSS MB', 'pages/s', 'wall ÷ sitemirror', 'CPU ÷ sitemirror', 'same pages?'];
  const lines = rows.map((row) => {
    const wall = median(row.runs.map((run) => run.wallS));
    const cpu = median(row.runs.map((run) => run.cpuS));
    const rss = Math.max(...row.runs.map((run) => run.peakRssMb));
    const capped = row.runs.some((run) => run.timedOut);
    const same = row.missing.length === 0 ? 'yes' : `${row.missing.length} missing${capped ? ` (stopped at ${HTTRACK_CAP_S} s)` : ''}, e.g. ${row.missing.slice(0, 3).join(', ')}`;
    return [
      row.tool,
      String(row.pages),
      String(row.files),
      format(row.bytes / 1e6),
      format(wall, 2),
      format(cpu, 2),
      format((cpu * 1000) / Math.max(1, row.pages), 2),
      format(rss, 0),
      format(row.pages / wall, 1),
      format(wall / baseWall, 2),
      format(cpu / baseCpu, 2),
      same,
    ];
  });
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i]!.length)));
  const show = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(show(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const line of lines) console.log(show(line));
  console.log(`(medians of ${ROUNDS} round(s); a run over 60 s is run once; HTTrack one run capped at ${HTTRACK_CAP_S} s; expected pages: ${pages})`);
}

async function benchLatency(tools: Tool[], latencyMs: number, results: Map<string, Row>): Promise<void> {
  const site = await startSite(PAGES, latencyMs);
  try {
    const media = MEDIA > 0 ? `, ${MEDIA} of them with a ${MEDIA_MB} MB video` : '';
    console.log(`\n## ${PAGES} pages${media}, ${latencyMs} ms latency per response (${site.url})`);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const tool of tools) {
        // HTTrack runs once, capped; a run over a minute (wget 1.x at 50 ms is sequential) is its own median.
        const previous = results.get(tool.name)?.runs[0];
        if (round > 1 && (tool.capped || (previous && previous.wallS > 60))) continue;
        const { measurement, contents } = await runOnce(tool, site.url);
        const row = results.get(tool.name) ?? { tool: tool.name, runs: [], pages: 0, files: 0, bytes: 0, missing: [] };
        row.runs.push(measurement);
        row.pages = contents.pages.size;
        row.files = contents.files;
        row.bytes = contents.bytes;
        row.missing = Array.from({ length: PAGES }, (_, i) => i).filter((i) => !contents.pages.has(i));
        if (MEDIA > 0) row.media = contents.largeFiles.filter((size) => size === MEDIA_MB * 1024 ** 2).length;
        results.set(tool.name, row);
        const note = measurement.timedOut ? ' (capped)' : measurement.exitCode === 0 ? '' : ` (exit ${measurement.exitCode}: ${measurement.stderrTail})`;
        console.log(`round ${round} ${tool.name}: ${contents.pages.size} pages in ${measurement.wallS.toFixed(2)} s, CPU ${measurement.cpuS.toFixed(2)} s (user ${measurement.userS.toFixed(2)}), ${measurement.peakRssMb.toFixed(0)} MB${note}`);
      }
    }
    printTable([...results.values()], PAGES);
    if (MEDIA > 0) printMedia([...results.values()]);
    else if (latencyMs === 0) await benchRender(site.url);
  } finally {
    await stopGenerator(site);
  }
}

/** The browser the render row uses, named in its line: Debian's headless shell (installed when missing), as discovery prefers. */
function renderBrowser(): string | undefined {
  if (!existsSync('/usr/bin/chromium-headless-shell')) aptInstall(['chromium-headless-shell']);
  return systemBrowserPaths(process.platform).find((path) => existsSync(path));
}

async function benchRender(url: string): Promise<void> {
  if (!(RENDER_ROUNDS >= 1)) return; // --render-rounds 0: no render row
  const browser = renderBrowser();
  const out = join(values.work!, 'render');
  const browserArgs = browser === undefined ? [] : ['--browser', browser];
  const label = `--render always, --max-pages ${RENDER_PAGES}, ${browser ?? 'the browser discovery finds'}`;
  // One run's rate moves by several per cent with this machine's hour, so the row is a median of rounds, as the others are.
  const runs: (Measurement & { rate: number; pages: number })[] = [];
  for (let round = 1; round <= RENDER_ROUNDS; round++) {
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    let tree: TreeCpu | undefined;
    const measurement = await measure([process.execPath, BIN, 'crawl', url, '-o', out, '-q', '--render', 'always', '--max-pages', String(RENDER_PAGES), ...browserArgs], {
      cwd: out,
      onStart: (pid) => (tree = new TreeCpu(pid)),
    });
    const treeCpu = tree?.stop();
    if (measurement.exitCode === 2 && /render/i.test(measurement.stderrTail)) {
      console.log(`render mode: skipped, the CLI refuses --render always (${measurement.stderrTail.split('\n').pop()})`);
      return;
    }
    const contents = await readMirror(out);
    await rm(out, { recursive: true, force: true });
    // GNU time counts only the processes their parents waited for, about half of Chromium's: the tree's CPU is read from /proc.
    const cpuS = Math.max(measurement.cpuS, treeCpu?.total ?? 0);
    const run = { ...measurement, cpuS, pages: contents.pages.size, rate: contents.pages.size / measurement.wallS };
    runs.push(run);
    const split = formatKinds(treeCpu?.byKind ?? []);
    console.log(
      `render round ${round} (${label}): ${run.pages} pages in ${run.wallS.toFixed(2)} s = ${run.rate.toFixed(1)} pages/s, CPU ${cpuS.toFixed(2)} s` +
        `${split === '' ? '' : ` (${split})`}, peak RSS ${run.peakRssMb.toFixed(0)} MB (largest process)${run.exitCode === 0 ? '' : `, exit ${run.exitCode}`}`,
    );
  }
  const rate = median(runs.map((run) => run.rate));
  const failed = runs.filter((run) => run.exitCode !== 0).length;
  console.log(
    `render mode (${label}): median of ${runs.length} round(s) ${rate.toFixed(2)} pages/s (${runs.map((run) => run.rate.toFixed(1)).join(', ')}), ` +
      `CPU ${format(median(runs.map((run) => run.cpuS)), 2)} s (every process of the tree), peak RSS ${format(Math.max(...runs.map((run) => run.peakRssMb)), 0)} MB (largest process)` +
      `${failed === 0 ? '' : `, ${failed} run(s) exited non-zero`} — target ≥ 10 pages/s: ${rate >= 10 && failed === 0 ? 'holds' : 'MISSED'}`,
  );
}

/** --media: whether each tool kept every video whole, and its memory beside the videos' size. */
function printMedia(rows: Row[]): void {
  for (const row of rows) {
    const rss = Math.max(...row.runs.map((run) => run.peakRssMb));
    console.log(`${row.tool}: ${row.media ?? 0} of ${MEDIA} videos whole (${MEDIA_MB} MB each), peak RSS ${format(rss, 0)} MB`);
  }
}

function checkTargets(byLatency: Map<number, Map<string, Row>>): void {
  console.log('\n## Targets');
  const wall = (row: Row | undefined) => (row ? median(row.runs.map((run) => run.wallS)) : NaN);
  const perPageCpuMs = (row: Row | undefined) => (row ? (median(row.runs.map((run) => run.cpuS)) * 1000) / Math.max(1, row.pages) : NaN);
  const verdict = (ok: boolean) => (ok ? 'holds' : 'MISSED');
  const slow = byLatency.get(50);
  if (slow) {
    const c5 = wall(slow.get('sitemirror -c5'));
    const wget2 = wall(slow.get('wget2 --max-threads=5'));
    console.log(`50 ms, 5 connections: sitemirror -c5 ${format(c5, 2)} s vs wget2 ${format(wget2, 2)} s — no longer than wget2: ${verdict(c5 <= wget2)}`);
    const rate = (row: Row | undefined) => (row ? row.pages / wall(row) : NaN);
    const ratio = rate(slow.get('sitemirror')) / rate(slow.get('wget'));
    console.log(`50 ms, defaults: sitemirror ${format(ratio, 1)}× the pages/s of wget 1.x — at least 5×: ${verdict(ratio >= 5)}`);
  }
  const fast = byLatency.get(0);
  if (fast) {
    const ours = perPageCpuMs(fast.get('sitemirror'));
    const wget = perPageCpuMs(fast.get('wget'));
    const wget2 = perPageCpuMs(fast.get('wget2 --max-threads=5'));
    console.log(`0 ms: sitemirror CPU ${format(ours, 2)} ms/page (wget ${format(wget, 2)}, ${format(ours / wget, 1)}×; wget2 ${format(wget2, 2)}, ${format(ours / wget2, 1)}×) — under 2 ms: ${verdict(ours < 2)}`);
  }
}

async function benchScale(): Promise<void> {
  const site = await startSite(PAGES, 0);
  const out = join(values.work!, 'scale');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const state = values.state === undefined ? [] : ['--state', values.state];
  console.log(`\n## scale: ${PAGES} pages, 0 ms latency, sitemirror at its defaults${values.state === undefined ? '' : `, state in ${values.state}`} (${site.url})`);
  const tenth = Math.ceil(PAGES / 10);
  const started = Date.now();
  let pages = 0;
  let rootPid = 0;
  let tenthRss = 0;
  const marks: { at: number; rssMb: number }[] = [];
  const sampler = setInterval(() => {
    if (rootPid) tenthRss = Math.max(tenthRss, rssOfTree(rootPid));
  }, 500);
  try {
    const measurement = await measure([process.execPath, BIN, 'crawl', site.url, '-o', out, '--json', '--render', 'never', ...state], {
      cwd: out,
      onStart: (pid) => (rootPid = pid),
      onLine: (line) => {
        if (!line.includes('"event":"saved"') || !line.includes('"page":true')) return;
        pages++;
        if (pages % tenth === 0 || pages === PAGES) {
          marks.push({ at: Date.now(), rssMb: tenthRss });
          tenthRss = 0;
        }
      },
    });
    let previous = started;
    marks.forEach((mark, i) => {
      const count = Math.min(tenth, PAGES - i * tenth);
      console.log(`tenth ${i + 1}: ${format(count / ((mark.at - previous) / 1000), 0)} pages/s, RSS up to ${format(mark.rssMb, 0)} MB`);
      previous = mark.at;
    });
    const rate = pages / measurement.wallS;
    console.log(
      `${pages} pages in ${measurement.wallS.toFixed(1)} s (${rate.toFixed(0)} pages/s), CPU ${measurement.cpuS.toFixed(1)} s (${((measurement.cpuS * 1000) / pages).toFixed(2)} ms/page), peak RSS ${measurement.peakRssMb.toFixed(0)} MB — under 300 MB: ${measurement.peakRssMb < 300 ? 'holds' : 'MISSED'}${measurement.exitCode === 0 ? '' : `; exit ${measurement.exitCode}: ${measurement.stderrTail}`}`,
    );
  } finally {
    clearInterval(sampler);
    await stopGenerator(site);
    if (values.state !== undefined) await removeRedisState(values.state, out);
    await rm(out, { recursive: true, force: true });
  }
}

/** Deletes the scale run's keys: the prefix is in the mirror's state pointer (.sitemirror/state.json). */
async function removeRedisState(stateUrl: string, out: string): Promise<void> {
  const pointer = join(out, '.sitemirror', 'state.json');
  if (!existsSync(pointer)) return;
  const { prefix } = JSON.parse(await readFile(pointer, 'utf8')) as { prefix: string };
  const redis = new Redis(stateUrl);
  try {
    let removed = 0;
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) removed += await redis.unlink(...keys);
    }
    console.log(`removed the run's ${removed} keys from ${stateUrl}`);
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  if (values.state !== undefined && !values.scale) throw new Error('--state is for the scale run: npm run bench -- --scale --state URL');
  if (!values['no-build']) {
    const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('the build failed');
  }
  await mkdir(values.work!, { recursive: true });
  // Leftovers of an interrupted bench: removed, then a minute for ext4 to stop skipping their inodes (see runOnce).
  const leftovers = join(values.work!, 'mirrors');
  if (existsSync(leftovers)) {
    await rm(leftovers, { recursive: true, force: true });
    console.log('removed the mirrors of an interrupted bench; waiting 60 s so their deletion does not slow the first runs');
    await new Promise((resolve) => setTimeout(resolve, 60_000));
  }
  // Node reads the bundle NODE_EXTRA_CA_CERTS names (this VM sets it for its proxy's CA) at every start, before any
  // of its code runs: 50–90 ms of CPU and of wall time here. The site is plain HTTP and the C tools never read the
  // variable, so every tool runs without it; --keep-node-ca-certs measures with it.
  if (process.env.NODE_EXTRA_CA_CERTS !== undefined && !values['keep-node-ca-certs']) {
    console.log(`NODE_EXTRA_CA_CERTS (${process.env.NODE_EXTRA_CA_CERTS}) removed from the tools' environment: Node would read it at every start (--keep-node-ca-certs keeps it)`);
    delete process.env.NODE_EXTRA_CA_CERTS;
  }
  const sitemirrorVersion = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`sitemirror ${sitemirrorVersion} on Node ${process.version}; ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} CPUs`);
  if (values.scale) return benchScale();
  const tools = availableTools();
  for (const binary of new Set(tools.filter((tool) => tool.debianPackage).map((tool) => tool.binary))) console.log(`${binary}: ${versionOf(binary)}`);
  const byLatency = new Map<number, Map<string, Row>>();
  // Large files: one latency, 0 ms unless given (the question is memory, not waiting).
  const latencies = MEDIA > 0 && values.latency === '0,50' ? [0] : values.latency!.split(',').map(Number);
  for (const latency of latencies) {
    const results = new Map<string, Row>();
    byLatency.set(latency, results);
    await benchLatency(tools, latency, results);
  }
  if (MEDIA === 0) checkTargets(byLatency);
  await rm(leftovers, { recursive: true, force: true });
}

await main();
