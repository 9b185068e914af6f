#!/usr/bin/env node
// The HTTP client alone: undici's Agent through the crawler's own src/undici-client.ts (built into dist/), with
// `connections` workers each asking for the next URL of the list as soon as its previous body is read, nothing else
// done. What is left of the gaps here is undici's and the machine's.   node bench/gaps/floor.mjs URLS.json CONNECTIONS
import { readFileSync } from 'node:fs';
import { Agent, request } from '../../dist/undici-client.js';

const [file, connectionsText = '5'] = process.argv.slice(2);
const urls = JSON.parse(readFileSync(file, 'utf8')).map((url) => new URL(url));
const connections = Number(connectionsText);
const agent = new Agent({ connections });
let next = 0;
async function worker() {
  while (next < urls.length) {
    const url = urls[next++];
    const response = await request(agent, url, { method: 'GET' });
    for await (const chunk of response.body) void chunk;
  }
}
await Promise.all(Array.from({ length: connections }, worker));
await agent.close();
