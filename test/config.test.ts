import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCrawlArgs, parseDuration, parseSize } from '../src/config.ts';
import { UsageError } from '../src/errors.ts';

describe('parseCrawlArgs', () => {
  it('normalises the seed and applies defaults', () => {
    const options = parseCrawlArgs(['HTTP://Example.com:80/a/./b#frag']);
    assert.equal(options.seed, 'http://example.com/a/b');
    assert.equal(options.outputDir, 'output');
    assert.equal(options.depth, Infinity);
    assert.equal(options.concurrency, 8);
  });
  it('reads every kind of option', () => {
    const options = parseCrawlArgs([
      'http://h/docs/x.html', '-o', 'out', '--depth', '2', '--max-pages', '10', '--no-parent', '--allow-host', 'CDN.test',
      '--include', 'a', '--exclude', 'b', '--header', 'X-Test: 1', '--cookie', 'k=v', '--timeout', '2s', '--max-file-size', '1M',
      '--delay', '250ms', '--no-canonical', '--retries', '0', '--concurrency', '2',
    ]);
    assert.equal(options.outputDir, 'out');
    assert.equal(options.depth, 2);
    assert.equal(options.maxPages, 10);
    assert.equal(options.scope.pathPrefix, '/docs/');
    assert.deepEqual(options.scope.allowedHosts, ['cdn.test']);
    assert.deepEqual(options.headers, { 'x-test': '1' });
    assert.equal(options.readTimeoutMs, 2000);
    assert.equal(options.maxFileBytes, 1024 * 1024);
    assert.equal(options.delayMs, 250);
    assert.equal(options.canonical, false);
    assert.equal(options.perHost, 2);
  });
  for (const [name, args] of [
    ['no URL', []],
    ['a non-http URL', ['ftp://h/']],
    ['a broken URL', ['http://']],
    ['an unknown option', ['http://h/', '--frobnicate']],
    ['a bad depth', ['http://h/', '--depth', 'two']],
    ['a bad pattern', ['http://h/', '--include', '(']],
    ['a bad header', ['http://h/', '--header', 'nocolon']],
  ] as [string, string[]][]) {
    it(`refuses ${name} with a usage error`, () => assert.throws(() => parseCrawlArgs(args), UsageError));
  }
});

describe('sizes and durations', () => {
  it('parses sizes', () => {
    assert.equal(parseSize('500k'), 512000);
    assert.equal(parseSize('10M'), 10 * 1024 * 1024);
    assert.equal(parseSize('2048'), 2048);
  });
  it('parses durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('2m'), 120000);
    assert.equal(parseDuration('1.5'), 1500);
  });
});
