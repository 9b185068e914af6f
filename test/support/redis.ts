// A real redis-server for the tests: the one CI started (SITEMIRROR_TEST_REDIS_URL), or one of our own on a free
// port of 127.0.0.1, without persistence, in a temporary folder, stopped when the tests end.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
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

/** Whether a Redis answers PING on the port. */
function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (reply) => {
      socket.destroy();
      done(reply.toString().startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

async function launch(): Promise<string> {
  if (!existsSync(SERVER)) {
    throw new Error(`redis-server is not installed (${SERVER}); the Redis state tests need it: apt-get install redis-server (or set SITEMIRROR_TEST_REDIS_URL)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sitemirror-redis-'));
  const port = await freePort();
  const log = join(dir, 'redis.log');
  // No pipes to it and unref'd: the test process ends when its tests do, and takes the server with it.
  const child: ChildProcess = spawn(SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', log], {
    stdio: 'ignore',
  });
  child.unref();
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  // At exit, not in an after() hook: the first test to ask would scope the hook to itself.
  process.once('exit', () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  for (let attempt = 0; !(await answers(port)); attempt++) {
    if (exited !== undefined || attempt > 100) {
      const output = existsSync(log) ? readFileSync(log, 'utf8') : '';
      throw new Error(`redis-server did not start on port ${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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
