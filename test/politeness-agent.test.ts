// HostLimiter.runThroughAgent against a real server and the crawl's fetcher: requests may be made ahead of their
// turn and wait in the agent's queue, but the server never sees more than perHost (or total) of them at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { HttpFetcher, type FetcherOptions } from '../src/fetch.js';
import { HostLimiter } from '../src/politeness.js';

const OPTIONS: FetcherOptions = { userAgent: 'sitemirror-test/1', headers: {}, connectTimeoutMs: 1000, readTimeoutMs: 1000, maxRedirects: 10, maxBytes: Infinity };

/** Requests held at once by a group of servers together. */
interface Tally {
  open: number;
  most: number;
}

/** A server that answers every request after `answerMs`, counting how many it holds at once (and with `together`). */
async function countingServer(answerMs: number, together: Tally = { open: 0, most: 0 }): Promise<{ server: Server; origin: string; mostAtOnce: () => number }> {
  let open = 0;
  let most = 0;
  const server = createServer((_request, response) => {
    most = Math.max(most, ++open);
    together.most = Math.max(together.most, ++together.open);
    setTimeout(() => {
      open--;
      together.open--;
      response.end('ok');
    }, answerMs);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, mostAtOnce: () => most };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((done) => server.close(() => done()));
}

describe('HostLimiter.runThroughAgent', () => {
  it('starts up to aheadPerHost more requests than perHost, and the server still sees at most perHost at once', async () => {
    const site = await countingServer(40);
    const fetcher = new HttpFetcher({ ...OPTIONS, connectionsPerOrigin: 2 });
    const limiter = new HostLimiter({ perHost: 2, delayMs: 0, total: 10, aheadPerHost: 2 });
    let started = 0;
    let mostStarted = 0;
    try {
      const host = new URL(site.origin).host;
      const bodies = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          limiter.runThroughAgent(host, async () => {
            mostStarted = Math.max(mostStarted, ++started);
            try {
              return (await fetcher.fetch(`${site.origin}/${i}`)).body.toString();
            } finally {
              started--;
            }
          }),
        ),
      );
      assert.deepEqual(bodies, Array(12).fill('ok'));
      assert.equal(mostStarted, 4, 'two on the wire and two waiting in the agent');
      assert.equal(site.mostAtOnce(), 2);
      assert.equal(limiter.peak(host), 2);
    } finally {
      await fetcher.close();
      await close(site.server);
    }
  });

  it('keeps `total` requests on the wire over all hosts, and starts none ahead for a host that is not full', async () => {
    const together: Tally = { open: 0, most: 0 };
    const sites = await Promise.all([countingServer(40, together), countingServer(40, together), countingServer(40, together)]);
    const fetcher = new HttpFetcher({ ...OPTIONS, connectionsPerOrigin: 2 });
    const limiter = new HostLimiter({ perHost: 2, delayMs: 0, total: 3, aheadPerHost: 2 });
    try {
      const results = await Promise.all(
        sites.flatMap((site) =>
          Array.from({ length: 6 }, (_, i) =>
            limiter.runThroughAgent(new URL(site.origin).host, async () => (await fetcher.fetch(`${site.origin}/${i}`)).status),
          ),
        ),
      );
      assert.deepEqual(results, Array(18).fill(200));
      assert.equal(together.most, 3, 'the three servers together held at most `total`, and used it');
      for (const site of sites) assert.ok(site.mostAtOnce() <= 2, `a host saw ${site.mostAtOnce()} at once`);
    } finally {
      await fetcher.close();
      await Promise.all(sites.map((site) => close(site.server)));
    }
  });

  it('admits no other task (a browser request) to a host whose slots are all taken, ahead or not', async () => {
    const limiter = new HostLimiter({ perHost: 1, delayMs: 0, total: 5, aheadPerHost: 1 });
    const order: string[] = [];
    const agentTask = (name: string) => limiter.runThroughAgent('h', async () => {
      order.push(`${name} start`);
      await delay(30);
      order.push(`${name} end`);
    });
    const other = limiter.run('h', async () => {
      order.push('browser start');
      await delay(5);
      order.push('browser end');
    });
    await Promise.all([other, agentTask('a'), agentTask('b')]);
    // The browser's request came first and ran alone; the agent's then ran one on the wire and one ahead.
    assert.deepEqual(order.slice(0, 2), ['browser start', 'browser end']);
    assert.deepEqual(order.slice(2, 4), ['a start', 'b start']);
  });

  it('counts a request waiting in the agent from its connection, so it does not time out behind a slow one', async () => {
    const site = await countingServer(300);
    const fetcher = new HttpFetcher({ ...OPTIONS, readTimeoutMs: 400, connectionsPerOrigin: 1 });
    const limiter = new HostLimiter({ perHost: 1, delayMs: 0, aheadPerHost: 1 });
    try {
      const host = new URL(site.origin).host;
      const started = performance.now();
      const statuses = await Promise.all([0, 1].map((i) => limiter.runThroughAgent(host, async () => (await fetcher.fetch(`${site.origin}/${i}`)).status)));
      assert.deepEqual(statuses, [200, 200]);
      // One after the other on the one connection: the second waited ~300 ms, then took ~300 ms of its 400.
      assert.ok(performance.now() - started >= 590, `both took ${(performance.now() - started).toFixed(0)} ms`);
      assert.equal(site.mostAtOnce(), 1);
    } finally {
      await fetcher.close();
      await close(site.server);
    }
  });
});
