// A real redis-server for the tests: the one CI started (SITEMIRROR_TEST_REDIS_URL), or one of our own on a free
// port of 127.0.0.1, without persistence, in a temporary folder, stopped when the tests end.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
let started: Promise<string> | undefined;

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

async function launch(): Promise<string> {
  if (!existsSync(SERVER)) {
    throw new Error(`redis-server is not installed (${SERVER}); the Redis state tests need it: apt-get install redis-server (or set SITEMIRROR_TEST_REDIS_URL)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sitemirror-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // At exit, not in an after() hook: the first test to ask would scope the hook to itself.
  process.once('exit', () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  await new Promise<void>((ready, fail) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`redis-server did not start on port ${port}:\n${output}`)), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        ready();
      }
    });
    child.once('exit', (code) => fail(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  return `redis://127.0.0.1:${port}`;
}

/**
 * The URL of the tests' Redis. Tests need no database of their own: a crawl's keys are named after its seed and
 * output folder, and every test crawls into a fresh temporary folder.
 */
export function redisUrl(): Promise<string> {
  started ??= process.env.SITEMIRROR_TEST_REDIS_URL ? Promise.resolve(process.env.SITEMIRROR_TEST_REDIS_URL) : launch();
  return started;
}
