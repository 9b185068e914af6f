// Page processing in turns: I/O and timers that come due during one chunk run before the next chunk.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  it('lets a request started before a chunk reach its kept-alive connection first (node:http writes it in a nextTick)', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (order?: string[]) =>
      new Promise<void>((resolve, reject) => {
        const request = httpRequest({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/', agent });
        request.on('finish', () => order?.push('request written'));
        request.on('response', (response) => response.resume().on('end', resolve));
        request.on('error', reject);
        request.end();
      });
    try {
      await get(); // the connection is open and idle in the agent now
      const turns = new ProcessingTurns();
      const order: string[] = [];
      const answered = get(order);
      await turns.next().then(() => order.push('chunk'));
      await answered;
      assert.deepEqual(order, ['request written', 'chunk']);
    } finally {
      agent.destroy();
      server.close();
    }
  });

  it('hands out turns in the order they were asked for, and again after the queue ran dry', async () => {
    const turns = new ProcessingTurns();
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((n) => turns.next().then(() => order.push(n))));
    await turns.next().then(() => order.push(4));
    assert.deepEqual(order, [1, 2, 3, 4]);
  });
});
