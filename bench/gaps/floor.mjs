#!/usr/bin/env node
// The HTTP client alone: node:http with a kept-alive agent, as the crawler's fetcher uses it, with `connections`
// workers each asking for the next URL of the list as soon as its previous body is read, nothing else done. What is
// left of the gaps here is node's and the machine's.   node bench/gaps/floor.mjs URLS.json CONNECTIONS
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';

const [file, connectionsText = '5'] = process.argv.slice(2);
const urls = JSON.parse(readFileSync(file, 'utf8'));
const connections = Number(connectionsText);
const agent = new Agent({ keepAlive: true, maxSockets: connections, scheduling: 'fifo' });
let next = 0;
function fetchBody(url) {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (response) => {
      response.on('data', () => undefined);
      response.on('end', resolve);
      response.on('error', reject);
    }).on('error', reject);
  });
}
async function worker() {
  while (next < urls.length) await fetchBody(urls[next++]);
}
await Promise.all(Array.from({ length: connections }, worker));
agent.destroy();
