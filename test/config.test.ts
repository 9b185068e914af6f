import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCrawlArgs, parseDuration, parseSize, parseStoredOptions } from '../src/config.ts';
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
    ['an unknown render mode', ['http://h/', '--render', 'sometimes']],
    ['a render timeout of zero', ['http://h/', '--render-timeout', '0']],
    ['a negative scroll step count', ['http://h/', '--scroll-steps', '-1']],
    ['a password without a user', ['http://h/', '--password', 'p']],
    ['--user with an Authorization header', ['http://h/', '--user', 'u', '--header', 'Authorization: Bearer t']],
  ] as [string, string[]][]) {
    it(`refuses ${name} with a usage error`, () => assert.throws(() => parseCrawlArgs(args), UsageError));
  }

  it('turns --user and --password, SITEMIRROR_PASSWORD or user:password@ in the seed into HTTP Basic, and keeps them out of the seed', () => {
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    const fromUrl = parseCrawlArgs(['http://ann:s%C3%A9cret%40x@h.test/docs/']);
    assert.equal(fromUrl.seed, 'http://h.test/docs/');
    assert.equal(fromUrl.headers.authorization, basic('ann:sécret@x'));
    assert.equal(parseCrawlArgs(['http://h.test/', '--user', 'bo', '--password', 'pw']).headers.authorization, basic('bo:pw'));
    assert.equal(parseCrawlArgs(['http://h.test/', '--user', 'bo'], { SITEMIRROR_PASSWORD: 'env' }).headers.authorization, basic('bo:env'));
    // The options win over the URL's own.
    assert.equal(parseCrawlArgs(['http://ann:old@h.test/', '--password', 'new']).headers.authorization, basic('ann:new'));
    assert.equal(parseCrawlArgs(['http://h.test/']).headers.authorization, undefined);
    assert.equal(parseCrawlArgs(['http://ann:100%zz@h.test/']).headers.authorization, basic('ann:100%zz'), 'a malformed escape is kept');
  });
});

describe('parseCrawlArgs: rendering options', () => {
  it('renders when a browser is found unless told otherwise (issue 3: auto is the default)', () => {
    const options = parseCrawlArgs(['http://h/']);
    assert.equal(options.render, 'auto');
    assert.equal(options.browserPath, undefined);
    assert.equal(options.keepScripts, false);
    assert.equal(options.renderTimeoutMs, 30_000);
    assert.equal(options.scrollSteps, 20);
  });
  it('reads --render, --browser, --keep-scripts, --render-timeout and --scroll-steps', () => {
    const options = parseCrawlArgs(['http://h/', '--render', 'always', '--browser', '/opt/chrome', '--keep-scripts', '--render-timeout', '5s', '--scroll-steps', '0']);
    assert.equal(options.render, 'always');
    assert.equal(options.browserPath, '/opt/chrome');
    assert.equal(options.keepScripts, true);
    assert.equal(options.renderTimeoutMs, 5000);
    assert.equal(options.scrollSteps, 0);
  });
  it('keeps an unlimited scroll step count through the stored options (JSON writes Infinity as null)', () => {
    const options = parseCrawlArgs(['http://h/', '--scroll-steps', 'unlimited']);
    assert.equal(parseStoredOptions(JSON.stringify(options)).scrollSteps, Infinity);
  });
  it('gives a mirror made before rendering options existed their defaults', () => {
    const { renderTimeoutMs: _timeout, scrollSteps: _steps, ...older } = parseCrawlArgs(['http://h/', '--render', 'never']);
    const stored = parseStoredOptions(JSON.stringify(older));
    assert.equal(stored.render, 'never');
    assert.equal(stored.renderTimeoutMs, 30_000);
    assert.equal(stored.scrollSteps, 20);
  });
});

describe('parseCrawlArgs: limits and crawler traps (issue 5)', () => {
  it('has defaults that stop traps on their own, and keeps the query order', () => {
    const options = parseCrawlArgs(['http://h/?b=1&a=2&sid=x']);
    assert.deepEqual(options.traps, { maxPathSegments: 32, maxSegmentRepeats: 3, maxQueryVariants: 1000 });
    assert.deepEqual(options.query, { sortParams: false, stripParams: ['jsessionid', 'phpsessid', 'sid', 'sessionid', 'utm_*'] });
    assert.equal(options.seed, 'http://h/?b=1&a=2', 'the seed is normalised with the same rules as links');
    assert.equal(options.maxFetchMs, 300_000);
    assert.equal(options.maxParseBytes, 16 * 1024 * 1024);
    assert.equal(options.maxRunMs, Infinity);
    assert.equal(options.maxTotalBytes, Infinity);
  });
  it('reads the trap, query and run-limit options, and derives --max-fetch-time from --timeout', () => {
    const options = parseCrawlArgs([
      'http://h/', '--max-path-segments', '10', '--max-segment-repeats', '2', '--max-query-variants', 'unlimited', '--sort-query',
      '--strip-params', 'token, ref_*', '--max-time', '2m', '--max-total-size', '1G', '--max-parse-size', '4M', '--timeout', '2s',
    ]);
    assert.deepEqual(options.traps, { maxPathSegments: 10, maxSegmentRepeats: 2, maxQueryVariants: Infinity });
    assert.deepEqual(options.query, { sortParams: true, stripParams: ['token', 'ref_*'] });
    assert.equal(options.maxRunMs, 120_000);
    assert.equal(options.maxTotalBytes, 1024 ** 3);
    assert.equal(options.maxParseBytes, 4 * 1024 * 1024);
    assert.equal(options.maxFetchMs, 20_000);
    assert.deepEqual(parseCrawlArgs(['http://h/', '--strip-params', '']).query.stripParams, []);
  });
  it('keeps unlimited values through the stored options, and gives older mirrors the defaults', () => {
    const options = parseCrawlArgs(['http://h/', '--max-query-variants', 'inf']);
    assert.equal(parseStoredOptions(JSON.stringify(options)).traps.maxQueryVariants, Infinity);
    assert.equal(parseStoredOptions(JSON.stringify(options)).maxRunMs, Infinity);
    const { traps: _traps, query: _query, maxRunMs: _run, maxTotalBytes: _total, ...older } = parseCrawlArgs(['http://h/']);
    const stored = parseStoredOptions(JSON.stringify(older));
    assert.equal(stored.traps.maxSegmentRepeats, 3);
    assert.deepEqual(stored.query.stripParams, ['jsessionid', 'phpsessid', 'sid', 'sessionid', 'utm_*']);
    assert.equal(stored.maxTotalBytes, Infinity);
  });
  for (const [name, args] of [
    ['a zero path-segment limit', ['--max-path-segments', '0']],
    ['a parameter name with =', ['--strip-params', 'a=b']],
    ['a bare *', ['--strip-params', '*']],
    ['a zero --max-time', ['--max-time', '0s']],
  ] as [string, string[]][]) {
    it(`refuses ${name}`, () => assert.throws(() => parseCrawlArgs(['http://h/', ...args]), UsageError));
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
