// The crawl state names its format: a crawl marks the state with the format it writes, and a state a newer sitemirror
// marked with a later format is refused by crawl, update and verify alike, in one line, with the mirror untouched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { STATE_FORMAT } from '../src/state.ts';
import { startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir } from './support/cli.ts';
import { listFiles } from './support/linkcheck.ts';
import { redisUrl } from './support/redis.ts';

/** How a test reads and writes the state's meta on one backend. */
interface Backend {
  stateArgs: () => Promise<string[]>;
  readFormat: (outputDir: string) => Promise<string | undefined>;
  writeFormat: (outputDir: string, format: string) => Promise<void>;
  /** As a sitemirror from before the format was recorded left the state. */
  clearFormat: (outputDir: string) => Promise<void>;
}

/** The SQLite state's meta table, opened read-only when only read. */
function withSqliteMeta<T>(outputDir: string, readonly: boolean, use: (db: Database.Database) => T): T {
  const db = new Database(join(outputDir, '.sitemirror', 'state.db'), { readonly });
  try {
    return use(db);
  } finally {
    db.close();
  }
}

const sqlite: Backend = {
  stateArgs: async () => [],
  readFormat: async (outputDir) =>
    withSqliteMeta(outputDir, true, (db) => (db.prepare('SELECT value FROM meta WHERE key = ?').get('state-format') as { value: string } | undefined)?.value),
  writeFormat: async (outputDir, format) =>
    void withSqliteMeta(outputDir, false, (db) => db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run('state-format', format)),
  clearFormat: async (outputDir) => void withSqliteMeta(outputDir, false, (db) => db.prepare('DELETE FROM meta WHERE key = ?').run('state-format')),
};

/** The Redis state's meta hash, found through the pointer the mirror folder keeps. */
async function withRedisMeta<T>(outputDir: string, use: (redis: Redis, key: string) => Promise<T>): Promise<T> {
  const pointer = JSON.parse(readFileSync(join(outputDir, '.sitemirror', 'state.json'), 'utf8')) as { prefix: string };
  const redis = new Redis(await redisUrl());
  try {
    return await use(redis, `${pointer.prefix}meta`);
  } finally {
    redis.disconnect();
  }
}

const redis: Backend = {
  stateArgs: async () => ['--state', await redisUrl()],
  readFormat: (outputDir) => withRedisMeta(outputDir, async (client, key) => (await client.hget(key, 'state-format')) ?? undefined),
  writeFormat: (outputDir, format) => withRedisMeta(outputDir, async (client, key) => void (await client.hset(key, 'state-format', format))),
  clearFormat: (outputDir) => withRedisMeta(outputDir, async (client, key) => void (await client.hdel(key, 'state-format'))),
};

function snapshot(root: string): Map<string, string> {
  return new Map(listFiles(root).map((file) => [file, readFileSync(join(root, file)).toString('base64')]));
}

for (const [name, backend] of [['SQLite', sqlite], ['Redis', redis]] as const) {
  describe(`The state format on ${name}`, () => {
    let server: FixtureServer;
    before(async () => {
      const page = (body: string) => (_req: unknown, res: import('node:http').ServerResponse) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<!doctype html><title>Pears</title><link rel="stylesheet" href="/pear.css">${body}`);
      };
      server = await startServer({
        routes: {
          '/': page('<a href="/orchard/conference.html">Conference</a> <a href="/orchard/comice.html">Comice</a>'),
          '/orchard/conference.html': page('<h1>Conference</h1><a href="/">home</a>'),
          '/orchard/comice.html': page('<h1>Comice</h1><a href="/orchard/conference.html">Conference</a>'),
          '/pear.css': (_req, res) => {
            res.writeHead(200, { 'content-type': 'text/css' });
            res.end('h1 { color: olive }');
          },
        },
      });
    });
    after(() => server.close());

    it('is marked by a crawl, and a later one is refused by crawl, update and verify with the mirror untouched', async () => {
      const outputDir = await tempDir('state-format-');
      const seed = `${server.origin}/`;
      const stateArgs = await backend.stateArgs();
      const first = await runCli(['crawl', seed, '-o', outputDir, ...stateArgs]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(await backend.readFormat(outputDir), String(STATE_FORMAT));
      const mirrored = snapshot(outputDir);
      assert.equal([...mirrored.keys()].filter((file) => !file.startsWith('.sitemirror')).length, 4, [...mirrored.keys()].join(' '));

      const later = String(STATE_FORMAT + 1);
      await backend.writeFormat(outputDir, later);
      const requestsBefore = server.requests.length;
      for (const args of [['crawl', seed, '-o', outputDir, ...stateArgs], ['update', outputDir], ['verify', outputDir]]) {
        const refused = await runCli(args);
        assert.notEqual(refused.code, 0, `${args[0]} went ahead: ${refused.stdout}`);
        const lines = refused.stderr.trim().split('\n');
        assert.equal(lines.length, 1, refused.stderr);
        assert.match(lines[0]!, new RegExp(`written by a newer sitemirror \\(state format ${later}, this one reads up to ${STATE_FORMAT}\\)`));
      }
      // A crawl asks for robots.txt while it starts up (cli.ts's head start), before it opens the state.
      const fetched = server.paths().slice(requestsBefore).filter((path) => path !== '/robots.txt');
      assert.deepEqual(fetched, [], 'a refused run fetched pages from the origin');
      assert.deepEqual(snapshot(outputDir), mirrored);
      assert.equal(await backend.readFormat(outputDir), later);
    });

    it('is marked on a state an earlier sitemirror left unmarked, which this one goes on with', async () => {
      const outputDir = await tempDir('state-format-');
      const seed = `${server.origin}/`;
      const stateArgs = await backend.stateArgs();
      assert.equal((await runCli(['crawl', seed, '-o', outputDir, ...stateArgs])).code, 0);
      await backend.clearFormat(outputDir);
      assert.equal(await backend.readFormat(outputDir), undefined);
      const update = await runCli(['update', outputDir]);
      assert.equal(update.code, 0, update.stderr);
      assert.equal(await backend.readFormat(outputDir), String(STATE_FORMAT));
    });
  });
}
