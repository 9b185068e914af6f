// Politeness across workers: two workers' limiters on one Redis state share the per-host limit and the crawl-delay.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { HostGate } from '../src/politeness.ts';
import { openState, type CrawlState } from '../src/state.ts';
import { redisUrl } from './support/redis.ts';
import { tempDirSync } from './support/cli.ts';

const SEED = 'http://h.test/';
const opened: CrawlState[] = [];
after(() => Promise.all(opened.map((state) => state.close())));

/** Two workers of one crawl: two connections, two worker names, one state. */
async function twoWorkers(): Promise<[CrawlState, CrawlState]> {
  const outputDir = tempDirSync('politeness-');
  const stateUrl = await redisUrl();
  const open = () => openState({ outputDir, stateUrl, purpose: 'crawl', seed: SEED });
  const pair: [CrawlState, CrawlState] = [await open(), await open()];
  opened.push(...pair);
  return pair;
}

/** Runs `count` tasks of `workMs` on each gate at once, recording when each ran. */
async function runOnEach(gates: HostGate[], count: number, workMs: number): Promise<{ start: number; end: number }[]> {
  const spans: { start: number; end: number }[] = [];
  await Promise.all(
    gates.flatMap((gate) =>
      Array.from({ length: count }, () =>
        gate.run('h.test', async () => {
          const start = performance.now();
          await delay(workMs);
          spans.push({ start, end: performance.now() });
        }),
      ),
    ),
  );
  return spans.sort((a, b) => a.start - b.start);
}

function mostAtOnce(spans: { start: number; end: number }[]): number {
  return Math.max(...spans.map((span) => spans.filter((other) => other.start <= span.start && other.end > span.start).length));
}

describe('politeness on a Redis state', () => {
  it('keeps the per-host limit across workers, not per worker', async () => {
    const [a, b] = await twoWorkers();
    const options = { perHost: 2, delayMs: 0 };
    const spans = await runOnEach([a.hostGate(options), b.hostGate(options)], 6, 30);
    assert.equal(spans.length, 12);
    // Each worker alone would allow 2, so 4 at once without the shared slots.
    assert.equal(mostAtOnce(spans), 2);
  });

  it('spaces requests to a host by the delay across workers, counted from the end of the previous one', async () => {
    const [a, b] = await twoWorkers();
    const options = { perHost: 4, delayMs: 80 };
    const spans = await runOnEach([a.hostGate(options), b.hostGate(options)], 3, 10);
    assert.equal(spans.length, 6);
    for (let i = 1; i < spans.length; i++) {
      // Redis's clock decides the gap and ours measures it: a millisecond of rounding either way.
      const gap = spans[i]!.start - spans[i - 1]!.end;
      assert.ok(gap >= 78, `request ${i} started ${gap.toFixed(1)} ms after the previous one ended`);
    }
  });
});
