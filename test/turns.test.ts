// Page processing in turns: I/O and timers that come due during one chunk run before the next chunk.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessingTurns } from '../src/turns.ts';

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('ProcessingTurns', () => {
  it('runs a timer that fell due during one chunk before the next chunk starts', async () => {
    const turns = new ProcessingTurns();
    const order: string[] = [];
    const first = turns.next().then(() => {
      order.push('chunk 1');
      setTimeout(() => order.push('timer'), 1);
      busyFor(5);
    });
    const second = turns.next().then(() => order.push('chunk 2'));
    await Promise.all([first, second]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(order, ['chunk 1', 'timer', 'chunk 2']);
  });

  it('lets a request started meanwhile be written before the next chunk (its write waits for the check phase)', async () => {
    const turns = new ProcessingTurns();
    const order: string[] = [];
    const chunk = turns.next().then(() => order.push('chunk'));
    turns.requestStarted();
    // What undici does before writing on a kept-alive socket: an immediate, set after the runner's.
    setImmediate(() => order.push('request written'));
    await chunk;
    assert.deepEqual(order, ['request written', 'chunk']);
  });

  it('lets a request go first that the connection pool hands over one check phase later (two turns)', async () => {
    const turns = new ProcessingTurns();
    const order: string[] = [];
    const chunk = turns.next().then(() => order.push('chunk'));
    turns.requestStarted();
    // undici's pool: the connection finishing its previous response takes the request in one check phase and
    // writes it in the next.
    setImmediate(() => setImmediate(() => order.push('request written')));
    await chunk;
    assert.deepEqual(order, ['request written', 'chunk']);
  });

  it('never holds a chunk back more than two turns, however many requests start meanwhile', async () => {
    const turns = new ProcessingTurns();
    let turnsPassed = 0;
    let ticking = true;
    const tick = (): void => {
      if (!ticking) return;
      turnsPassed++;
      turns.requestStarted(); // a request in every turn
      setImmediate(tick);
    };
    turns.requestStarted();
    setImmediate(tick);
    await turns.next();
    ticking = false;
    assert.ok(turnsPassed <= 3, `the chunk waited ${turnsPassed} turns`);
  });

  it('hands out turns in the order they were asked for, and again after the queue ran dry', async () => {
    const turns = new ProcessingTurns();
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((n) => turns.next().then(() => order.push(n))));
    await turns.next().then(() => order.push(4));
    assert.deepEqual(order, [1, 2, 3, 4]);
  });
});
