#!/usr/bin/env node
// Where the time between two requests on one connection goes. Serves the bench site with bench/gaps/server-log.cjs,
// runs one crawl against it (any command; {url} is replaced by the site's address; a Node command also gets
// bench/gaps/client-log.cjs), then prints, from the server's clock: how long k connections were busy and the gaps
// between a response and the next request on the same socket; and for a Node client, each gap split into its parts.
//   node bench/gaps/run.mjs [--pages 1000] [--latency 50] [--connections 5] [--floor] [--first 8] [--timeline] [-- command…]
// Default command: sitemirror -c N --per-host N into a temporary folder. --floor then replays the same URLs with
// node:http alone (bench/gaps/floor.mjs). Examples:
//   node bench/gaps/run.mjs --floor
//   node bench/gaps/run.mjs -- wget2 -q --mirror --convert-links --page-requisites --adjust-extension --max-threads=5 -P /tmp/w2 {url}
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = dirname(new URL(import.meta.url).pathname);
const ROOT = join(HERE, '..', '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    pages: { type: 'string', default: '1000' },
    latency: { type: 'string', default: '50' },
    connections: { type: 'string', default: '5' },
    floor: { type: 'boolean', default: false },
    first: { type: 'string', default: '0' },
    timeline: { type: 'boolean', default: false },
  },
});
const connections = Number(values.connections);
const work = mkdtempSync(join(tmpdir(), 'sitemirror-gaps-'));
const env = { ...process.env, GAPS_DIR: work };

const site = spawn(process.execPath, ['-r', join(HERE, 'server-log.cjs'), join(ROOT, 'bench', 'generate-site.mjs'), '--pages', values.pages, '--latency', values.latency, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve) => {
  let text = '';
  site.stdout.on('data', (chunk) => {
    text += chunk;
    const found = /listening (http:\/\/\S+)/.exec(text);
    if (found) resolve(`${found[1]}/`);
  });
});

try {
  const command = positionals.length > 0 ? positionals : [process.execPath, join(ROOT, 'bin', 'sitemirror.js'), 'crawl', '{url}', '-o', join(work, 'mirror'), '-q', '--render', 'never', '-c', String(connections), '--per-host', String(connections)];
  await measure('crawl', command.map((part) => part.replaceAll('{url}', url)));
  if (values.floor) {
    const client = join(work, 'client.json');
    if (!existsSync(client)) throw new Error('--floor replays the URLs a Node client asked for; this command logged none');
    const urls = JSON.parse(readFileSync(client, 'utf8')).rows.map((row) => row.url);
    writeFileSync(join(work, 'urls.json'), JSON.stringify(urls));
    rmSync(client);
    await measure('node:http alone (floor)', [process.execPath, join(HERE, 'floor.mjs'), join(work, 'urls.json'), String(connections)]);
  }
} finally {
  site.kill();
  rmSync(work, { recursive: true, force: true });
}

async function measure(title, command) {
  const started = performance.now();
  const isNode = command[0] === process.execPath || command[0] === 'node';
  const childEnv = isNode ? { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --require ${join(HERE, 'client-log.cjs')}`.trim() } : env;
  const child = spawn(command[0], command.slice(1), { env: childEnv, stdio: 'inherit' });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  const wall = (performance.now() - started) / 1000;
  site.kill('SIGUSR2');
  const serverFile = join(work, 'server.json');
  for (let i = 0; i < 100 && !existsSync(serverFile); i++) await sleep(20);
  await sleep(50);
  const server = JSON.parse(readFileSync(serverFile, 'utf8'));
  rmSync(serverFile);
  console.log(`\n## ${title}: exit ${code}, ${wall.toFixed(2)} s wall, ${server.length} requests`);
  reportServer(server);
  const clientFile = join(work, 'client.json');
  if (existsSync(clientFile)) reportClient(server, JSON.parse(readFileSync(clientFile, 'utf8')));
}

function reportServer(rows) {
  const events = rows.flatMap(([, arrived, finished]) => [[arrived, 1], [finished, -1]]).sort((a, b) => a[0] - b[0]);
  const busyFor = new Array(connections + 2).fill(0);
  // --timeline: per second from the first request, the ms with fewer than all connections busy.
  const idleBySecond = [];
  let busy = 0;
  let last = events[0][0];
  for (const [at, change] of events) {
    busyFor[Math.min(busy, connections + 1)] += at - last;
    if (busy < connections) {
      const second = Math.floor((last - events[0][0]) / 1e6);
      idleBySecond[second] = (idleBySecond[second] ?? 0) + (at - last);
    }
    last = at;
    busy += change;
  }
  console.log(`server: ${((events.at(-1)[0] - events[0][0]) / 1e6).toFixed(2)} s from the first request to the last response`);
  console.log(`ms with k connections busy: ${busyFor.slice(0, connections + 1).map((us, k) => `${k}: ${(us / 1000).toFixed(0)}`).join(', ')}`);
  if (values.timeline) console.log(`ms with fewer than ${connections} busy, per second: ${Array.from(idleBySecond, (us) => ((us ?? 0) / 1000).toFixed(0)).join(' ')}`);
  console.log(table([['gap (response written → next request on its socket)', socketGaps(rows)]]));
}

/** Per socket, in order: the time from one response's end to the next request's arrival. */
function socketGaps(rows) {
  const byPort = groupBy(rows, ([port]) => port);
  const gaps = [];
  for (const socket of byPort.values()) {
    socket.sort((a, b) => a[1] - b[1]);
    for (let i = 1; i < socket.length; i++) gaps.push(socket[i][1] - socket[i - 1][2]);
  }
  return gaps;
}

function reportClient(serverRows, { processStart, rows }) {
  const sent = rows.filter((row) => row.sent !== undefined && row.ended !== undefined);
  const serverByPort = groupBy(serverRows, ([port]) => port);
  const parts = {
    'head (response written → its headers parsed by the client)': [],
    'body (headers parsed → body end read)': [],
    'work (body end read → next request created)': [],
    'client (created → request written to the socket)': [],
    'wire (headers sent → request at the server)': [],
  };
  const [head, body, made, client, wire] = Object.values(parts);
  for (const [port, requests] of groupBy(sent, (row) => row.port)) {
    const served = (serverByPort.get(port) ?? []).sort((a, b) => a[1] - b[1]);
    requests.sort((a, b) => a.sent - b.sent);
    if (served.length !== requests.length) continue; // a socket the server saw differently (a reset): left out
    for (let i = 1; i < requests.length; i++) {
      head.push(requests[i - 1].headers - served[i - 1][2]);
      body.push(requests[i - 1].ended - requests[i - 1].headers);
      made.push(requests[i].created - requests[i - 1].ended);
      client.push(requests[i].sent - Math.max(requests[i].created, requests[i - 1].ended));
      wire.push(served[i][1] - requests[i].sent);
    }
  }
  console.log(table(Object.entries(parts)));
  const first = Number(values.first);
  if (first > 0) {
    console.log(`first ${first} requests, ms after the process started: created, sent, ended`);
    for (const row of [...rows].sort((a, b) => a.created - b.created).slice(0, first)) {
      const at = (us) => (us === undefined ? '-' : ((us - processStart) / 1000).toFixed(1));
      console.log(`  ${at(row.created)} ${at(row.sent)} ${at(row.ended)} ${new URL(row.url).pathname}`);
    }
  }
}

/** Map.groupBy, which Node 20 lacks. */
function groupBy(items, keyOf) {
  const groups = new Map();
  for (const item of items) {
    const key = keyOf(item);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(item);
  }
  return groups;
}

function table(entries) {
  const lines = ['| part | n | sum ms | median ms | p90 ms | p99 ms |', '|---|---|---|---|---|---|'];
  for (const [name, values] of entries) {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (q) => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] / 1000).toFixed(2);
    const sum = sorted.reduce((total, value) => total + value, 0) / 1000;
    lines.push(`| ${name} | ${sorted.length} | ${sum.toFixed(0)} | ${at(0.5)} | ${at(0.9)} | ${at(0.99)} |`);
  }
  return lines.join('\n');
}
