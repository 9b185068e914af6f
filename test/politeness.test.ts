import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { HostLimiter } from '../src/politeness.js';

/** Runs `count` tasks of `workMs` each on `host`, recording start times and the most running at once. */
async function runTasks(limiter: HostLimiter, host: string, count: number, workMs: number): Promise<{ starts: number[]; mostAtOnce: number }> {
  const starts: number[] = [];
  let running = 0;
  let mostAtOnce = 0;
  await Promise.all(
    Array.from({ length: count }, () =>
      limiter.run(host, async () => {
        starts.push(performance.now());
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await delay(workMs);
        running--;
      }),
    ),
  );
  return { starts, mostAtOnce };
}

function gaps(starts: number[]): number[] {
  return starts.slice(1).map((start, index) => start - starts[index]);
}

describe('HostLimiter', () => {
  it('never runs more than perHost tasks at once on one host', async () => {
    const limiter = new HostLimiter({ perHost: 2, delayMs: 0 });
    const { mostAtOnce, starts } = await runTasks(limiter, 'example.com', 10, 20);
    assert.equal(starts.length, 10);
    assert.equal(mostAtOnce, 2);
    assert.equal(limiter.peak('example.com'), 2);
    assert.equal(limiter.peak('EXAMPLE.com'), 2);
    assert.equal(limiter.peak('elsewhere.org'), 0);
  });

  it('spaces request starts on one host by delayMs, even with free slots', async () => {
    const limiter = new HostLimiter({ perHost: 2, delayMs: 100 });
    const { starts } = await runTasks(limiter, 'example.com', 4, 5);
    for (const gap of gaps(starts)) assert.ok(gap >= 98, `gap ${gap.toFixed(1)} ms in ${gaps(starts).map(Math.round)}`);
  });

  it('lets a host delay (crawl-delay) raise the gap but never lower it', async () => {
    const limiter = new HostLimiter({ perHost: 3, delayMs: 30 });
    limiter.setHostDelay('slow.example', 150);
    limiter.setHostDelay('eager.example', 5);
    const [slow, eager] = await Promise.all([runTasks(limiter, 'slow.example', 3, 5), runTasks(limiter, 'eager.example', 3, 5)]);
    for (const gap of gaps(slow.starts)) assert.ok(gap >= 148, `slow gap ${gap.toFixed(1)} ms`);
    for (const gap of gaps(eager.starts)) assert.ok(gap >= 28, `eager gap ${gap.toFixed(1)} ms`);
  });

  it('with a delay, runs one request at a time and counts the gap from the end of the previous one', async () => {
    const limiter = new HostLimiter({ perHost: 4, delayMs: 100 });
    const spans: [number, number][] = [];
    await Promise.all(
      Array.from({ length: 3 }, () =>
        limiter.run('h', async () => {
          const start = performance.now();
          await delay(150);
          spans.push([start, performance.now()]);
        }),
      ),
    );
    assert.equal(limiter.peak('h'), 1);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] - spans[i - 1]![1] >= 95, `request ${i} started ${spans[i]![0] - spans[i - 1]![1]} ms after the previous ended`);
  });

  it('runs two hosts in parallel', async () => {
    const limiter = new HostLimiter({ perHost: 1, delayMs: 0 });
    let running = 0;
    let mostAtOnce = 0;
    const task = async (): Promise<void> => {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await delay(100);
      running--;
    };
    await Promise.all([limiter.run('a.example', task), limiter.run('b.example', task)]);
    assert.equal(mostAtOnce, 2);
  });

  it('passes results and errors through and frees the slot after a failure', async () => {
    const limiter = new HostLimiter({ perHost: 1, delayMs: 0 });
    await assert.rejects(limiter.run('a.example', async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await limiter.run('a.example', async () => 42), 42);
  });

  it('refuses a perHost below 1', () => {
    assert.throws(() => new HostLimiter({ perHost: 0, delayMs: 0 }), RangeError);
  });
});
