// Finding a browser (issue 3, "What must work" 1): --browser, else Playwright's Chromium, else a system one; what
// --render auto, always and never do with and without one, through the pure search, startRenderer and the real CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BROWSER_INSTALL_HINT, describeBrowser, findBrowser, systemBrowserPaths, type BrowserSearch } from '../src/browser.ts';
import { DEFAULTS, type CrawlOptions } from '../src/config.ts';
import { SitemirrorError, UsageError } from '../src/errors.ts';
import { isLocalAddress, startRenderer } from '../src/render.ts';
import { BIN, runCli, tempDir, type CliResult, cliEnv } from './support/cli.ts';
import { CHROMIUM_PATH } from './support/browser.ts';
import { startServer, type FixtureServer } from './support/server.ts';

const PLAYWRIGHT = '/root/.cache/ms-playwright/chromium-1/chrome-linux64/chrome';
const SYSTEM = ['/usr/bin/chromium', '/usr/bin/google-chrome'];

function search(present: string[], explicitPath?: string, playwrightPath: string | undefined = PLAYWRIGHT): BrowserSearch {
  return { explicitPath, playwrightPath, systemPaths: SYSTEM, exists: (path) => present.includes(path) };
}

describe('findBrowser: the order in which a browser is looked for', () => {
  for (const [name, present, explicit, expected] of [
    ['--browser wins over everything', [PLAYWRIGHT, ...SYSTEM, '/opt/chrome'], '/opt/chrome', { executablePath: '/opt/chrome', source: 'option' }],
    ["then Playwright's own Chromium", [PLAYWRIGHT, ...SYSTEM], undefined, { executablePath: PLAYWRIGHT, source: 'playwright' }],
    ['then the first system path that exists', ['/usr/bin/google-chrome'], undefined, { executablePath: '/usr/bin/google-chrome', source: 'system' }],
    ['system paths in their order of preference', SYSTEM, undefined, { executablePath: '/usr/bin/chromium', source: 'system' }],
    ['none at all', [], undefined, undefined],
  ] as const) {
    it(name, () => assert.deepEqual(findBrowser(search([...present], explicit)), expected));
  }

  it('skips Playwright when it knows no browser for this platform', () => {
    assert.deepEqual(findBrowser(search(SYSTEM, undefined, undefined)), { executablePath: '/usr/bin/chromium', source: 'system' });
  });

  it('refuses a --browser path with nothing there, even when another browser exists', () => {
    assert.throws(() => findBrowser(search([PLAYWRIGHT, ...SYSTEM], '/nowhere/chrome')), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /--browser \/nowhere\/chrome: no executable file there/);
      return true;
    });
  });

  it('knows the usual places on Linux, macOS and Windows', () => {
    assert.deepEqual(systemBrowserPaths('linux').slice(0, 2), ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium']);
    assert.ok(systemBrowserPaths('linux').includes('/usr/bin/google-chrome'));
    assert.ok(systemBrowserPaths('darwin').some((path) => path.endsWith('Google Chrome.app/Contents/MacOS/Google Chrome')));
    assert.ok(systemBrowserPaths('win32').every((path) => path.endsWith('chrome.exe')));
  });

  it('names the browser and where it came from', () => {
    assert.equal(describeBrowser({ executablePath: '/usr/bin/chromium', source: 'system' }), 'the system browser (/usr/bin/chromium)');
    assert.match(describeBrowser({ executablePath: PLAYWRIGHT, source: 'playwright' }), /^Playwright's Chromium/);
  });
});

describe('isLocalAddress: sites whose pages may reach local neighbours when rendered', () => {
  for (const address of ['127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.1.1', '100.64.0.1', '::1', 'fd12::1', 'fe80::1', '::ffff:192.168.0.1']) {
    it(`${address} is local`, () => assert.equal(isLocalAddress(address), true));
  }
  for (const address of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '2001:db8::1', '::ffff:8.8.8.8', 'example.com', '']) {
    it(`${address || '(empty)'} is not`, () => assert.equal(isLocalAddress(address), false));
  }
});

describe('startRenderer: --render auto, always and never', () => {
  const options = (render: CrawlOptions['render'], browserPath?: string): CrawlOptions => ({ ...DEFAULTS, seed: 'http://127.0.0.1/', render, browserPath, concurrency: 1 });
  const said = () => {
    const lines = { info: [] as string[], warn: [] as string[] };
    return { lines, say: { info: (m: string) => void lines.info.push(m), warn: (m: string) => void lines.warn.push(m) } };
  };
  const nothingFound = async () => undefined;

  it('never: no browser is looked for', async () => {
    const { lines, say } = said();
    const renderer = await startRenderer(options('never'), say, () => assert.fail('looked for a browser'));
    assert.equal(renderer, undefined);
    assert.deepEqual(lines, { info: [], warn: [] });
  });

  it('auto without a browser: plain HTTP, with one warning line that says how to install one', async () => {
    const { lines, say } = said();
    assert.equal(await startRenderer(options('auto'), say, nothingFound), undefined);
    assert.equal(lines.warn.length, 1);
    assert.ok(!lines.warn[0]!.includes('\n'));
    assert.ok(lines.warn[0]!.includes(BROWSER_INSTALL_HINT));
    assert.match(lines.warn[0]!, /apt-get install chromium/);
    assert.match(lines.warn[0]!, /npx playwright-core install chromium/);
  });

  it('always without a browser: a clear usage error with the install hint', async () => {
    const { say } = said();
    await assert.rejects(startRenderer(options('always'), say, nothingFound), (error: unknown) => {
      assert.ok(error instanceof SitemirrorError && error.code === 'USAGE');
      assert.match(error.message, /--render always: no Chromium or Chrome found; install Chromium/);
      return true;
    });
  });

  it('auto with a browser that will not start: one warning, then plain HTTP; always: an error', async () => {
    const broken = async () => ({ executablePath: '/bin/false', source: 'option' as const });
    const { lines, say } = said();
    assert.equal(await startRenderer(options('auto'), say, broken), undefined);
    assert.equal(lines.warn.length, 1);
    assert.match(lines.warn[0]!, /cannot start the browser at \/bin\/false.*saved as the server sends them/);
    await assert.rejects(startRenderer(options('always'), said().say, broken), /cannot start the browser at \/bin\/false/);
  });

  it('auto with a browser: says once which one renders', async () => {
    const { lines, say } = said();
    const renderer = await startRenderer(options('auto'), say, async () => ({ executablePath: CHROMIUM_PATH, source: 'system' }));
    try {
      assert.ok(renderer);
      assert.deepEqual(lines, { info: [`rendering pages with the system browser (${CHROMIUM_PATH})`], warn: [] });
    } finally {
      await renderer?.close();
    }
  });
});

/** The real command without runCli's `--render never` default for crawls: what a user gets. */
function runAsUser(args: string[]): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('the crawl command chooses how to fetch pages', () => {
  let server: FixtureServer;
  const builtText = 'Every word here was written by build-body.js.';
  before(async () => {
    server = await startServer({ root: 'render' });
  });
  after(() => server.close());

  it('renders by default (auto), naming the browser once, with Debian Chromium installed', async () => {
    const output = await tempDir();
    const result = await runAsUser(['crawl', `${server.origin}/script-body.html`, '-o', output, '--depth', '0']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr.match(/rendering pages with/g)?.length, 1, result.stderr);
    // The headless shell when Debian's chromium-headless-shell is installed too (it comes first), else the browser.
    const expected = existsSync('/usr/bin/chromium-headless-shell') ? '/usr/bin/chromium-headless-shell' : '/usr/bin/chromium';
    assert.ok(result.stderr.includes(`rendering pages with the system browser (${expected})`), result.stderr);
    assert.ok(readFileSync(join(output, server.hostFolder, 'script-body.html'), 'utf8').includes(builtText));
  });

  it('--render never fetches the page as the server sends it: the shell, its script kept, no browser line', async () => {
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/script-body.html`, '-o', output, '--depth', '0', '--render', 'never']);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /rendering pages/);
    const saved = readFileSync(join(output, server.hostFolder, 'script-body.html'), 'utf8');
    assert.ok(!saved.includes(builtText));
    assert.match(saved, /<script src="js\/build-body\.js" defer><\/script>/, 'only the link changed');
  });

  it('--browser with nothing there is a usage error before anything is fetched', async () => {
    const output = await tempDir();
    const before = server.requests.length;
    for (const render of ['auto', 'always']) {
      const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '--render', render, '--browser', '/nowhere/chromium']);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr, 'sitemirror: --browser /nowhere/chromium: no executable file there\n');
    }
    assert.equal(server.requests.length, before, 'nothing was requested');
    assert.ok(!existsSync(join(output, server.hostFolder)));
  });

  it('--browser names the browser to use', async () => {
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/script-body.html`, '-o', output, '--depth', '0', '--render', 'always', '--browser', CHROMIUM_PATH]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /rendering pages with the browser given with --browser \(\/usr\/bin\/chromium\)/);
  });

  it('lists the rendering options in the help', async () => {
    const result = await runCli(['crawl', '--help']);
    for (const option of ['--render MODE', '--browser PATH', '--render-timeout', '--scroll-steps', '--keep-scripts']) assert.ok(result.stdout.includes(option), option);
  });
});
