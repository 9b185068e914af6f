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

/**
 * Whether the Redis of this process id answers on the port. Another test file may have probed the same free port
 * and started its server there first: ours then exits, and PING alone would be answered by theirs.
 */
function answers(port: number, pid: number | undefined): Promise<boolean> {
  return new Promise((done) => {
    let reply = '';
    const socket = connect(port, '127.0.0.1', () => socket.write('INFO server\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const found = /process_id:(\d+)/.exec(reply);
      // An error reply, or something other than a Redis, is not ours either.
      if (found === null && !reply.startsWith('-') && reply.length < 65_536) return;
      socket.destroy();
      done(found !== null && Number(found[1]) === pid);
    });
    // Whatever else listens there may say nothing: a reply is due at once.
    socket.setTimeout(1_000, () => socket.destroy());
    socket.once('close', () => done(false));
    socket.once('error', () => done(false));
  });
}

async function launch(): Promise<string> {
  if (!existsSync(SERVER)) {
    throw new Error(`redis-server is not installed (${SERVER}); the Redis state tests need it: apt-get install redis-server (or set SITEMIRROR_TEST_REDIS_URL)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sitemirror-redis-'));
  const log = join(dir, 'redis.log');
  const children: ChildProcess[] = [];
  // At exit, not in an after() hook: the first test to ask would scope the hook to itself.
  process.once('exit', () => {
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  // A free port can be taken between the probe and the server's start (by another test file's server): try another.
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    // No pipes to it and unref'd: the test process ends when its tests do, and takes the server with it.
    const child: ChildProcess = spawn(SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', log], {
      stdio: 'ignore',
    });
    child.unref();
    children.push(child);
    let exited: number | null | undefined;
    child.once('exit', (code) => (exited = code));
    for (let attempt = 0; ; attempt++) {
      if (await answers(port, child.pid)) return `redis://127.0.0.1:${port}`;
      if (exited !== undefined || attempt > 100) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGTERM');
    if (tries === 5) {
      const output = existsSync(log) ? readFileSync(log, 'utf8') : '';
      throw new Error(`redis-server did not start (last on port ${port}):\n${output}`);
    }
  }
}

/**
 * The URL of the tests' Redis. Tests need no database of their own: a crawl's keys are named after its seed and
 * output folder, and every test crawls into a fresh temporary folder.
 */
export function redisUrl(): Promise<string> {
  started ??= process.env.SITEMIRROR_TEST_REDIS_URL ? Promise.resolve(process.env.SITEMIRROR_TEST_REDIS_URL) : launch();
  return started;
}
