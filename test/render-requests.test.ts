// What a rendered page may load (src/renderrequests.ts): the crawl's scope, robots.txt and --header rules for the
// browser's requests, files served from the mirror, and one download shared by pages that need the same file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../src/config.ts';
import { HostLimiter } from '../src/politeness.ts';
import type { CapturedResponse, RenderRequest, RequestDecision } from '../src/render.ts';
import { RenderRequestPolicy } from '../src/renderrequests.ts';
import type { RobotsPolicy } from '../src/robots.ts';
import { Scope, seedSiteHostnames } from '../src/scope.ts';
import type { UrlRecord } from '../src/state.ts';
import type { MirrorStore } from '../src/store.ts';

const SITE = 'http://site.test';
const CDN = 'http://cdn.test';

function policyFor(records: Partial<UrlRecord>[] = []) {
  const scope = new Scope(`${SITE}/`, { ...DEFAULTS.scope, allowedHosts: ['cdn.test'], exclude: ['/ads/'] });
  const robots: RobotsPolicy = { isAllowed: (url) => !url.includes('/private/'), crawlDelayMs: undefined, sitemaps: [], source: 'rules' };
  const files: Record<string, string> = { 'site.test/logo.png': 'PNG', 'site.test/a.css': 'rewritten css' };
  const raw: Record<string, string> = { 'css-hash': 'body { background: url(/bg.png) }' };
  const reads: string[] = [];
  const store = {
    read: async (path: string) => {
      reads.push(path);
      return Buffer.from(files[path] ?? '');
    },
    readRaw: async (hash: string) => {
      reads.push(hash);
      return Buffer.from(raw[hash] ?? '');
    },
  } as unknown as MirrorStore;
  const robotsAsked: string[] = [];
  const policy = new RenderRequestPolicy({
    scope,
    robotsPolicy: async (url) => {
      robotsAsked.push(url);
      return robots;
    },
    record: (url) => records.find((record) => record.url === url) as UrlRecord | undefined,
    store,
    limiter: new HostLimiter({ perHost: 2, delayMs: 0 }),
    headers: { authorization: 'Bearer site-only', 'x-mirror': 'yes' },
    credentialsFor: seedSiteHostnames(`${SITE}/`),
  });
  return { policy, robotsAsked, reads };
}

const get = (url: string, resourceType = 'image'): RenderRequest => ({ url, method: 'GET', resourceType });
const done = (url: string, fields: Partial<UrlRecord>): Partial<UrlRecord> => ({ url, state: 'done', http_status: 200, ...fields });

function captured(url: string, body: string): CapturedResponse {
  return { url, status: 200, headers: { 'content-type': 'image/png' }, contentType: 'image/png', charset: undefined, body: Buffer.from(body) };
}

describe('RenderRequestPolicy', () => {
  it('aborts what --exclude or robots.txt refuses', async () => {
    const { policy } = policyFor();
    assert.deepEqual(await policy.decide(get(`${SITE}/ads/banner.png`)), { action: 'abort' });
    assert.deepEqual(await policy.decide(get(`${SITE}/private/data.json`, 'fetch')), { action: 'abort' });
  });

  it('lets other hosts load, unsaved, without our headers and without asking their robots.txt', async () => {
    const { policy, robotsAsked } = policyFor();
    assert.deepEqual(await policy.decide(get('http://analytics.test/collect', 'fetch')), { action: 'load', capture: false });
    assert.deepEqual(robotsAsked, []);
  });

  it('captures the site’s and allowed hosts’ files, with --header (credentials to the site only), in a politeness slot', async () => {
    const { policy } = policyFor();
    const sent: [string, Record<string, string>][] = [
      [`${SITE}/photo.png`, { authorization: 'Bearer site-only', 'x-mirror': 'yes' }],
      [`${CDN}/lib.js`, { 'x-mirror': 'yes' }],
    ];
    for (const [url, headers] of sent) {
      const decision = await policy.decide(get(url));
      assert.equal(decision.action, 'load');
      if (decision.action !== 'load') return;
      assert.equal(decision.capture, true);
      assert.deepEqual(decision.headers, headers, url);
      assert.equal(await decision.throttle!(async () => 'sent'), 'sent');
    }
  });

  it('does not capture a frame’s document (the crawl renders it as a page) or a POST', async () => {
    const { policy } = policyFor();
    assert.equal(((await policy.decide(get(`${SITE}/frame.html`, 'document'))) as { capture: boolean }).capture, false);
    assert.equal(((await policy.decide({ url: `${SITE}/api`, method: 'POST', resourceType: 'fetch' })) as { capture: boolean }).capture, false);
  });

  it('serves a file the mirror holds from the mirror: the bytes as the origin sent them', async () => {
    const { policy } = policyFor([
      done(`${SITE}/logo.png`, { content_type: 'image/png', local_path: 'site.test/logo.png' }),
      done(`${SITE}/a.css`, { content_type: 'text/css', charset: 'utf-8', local_path: 'site.test/a.css', sha256: 'css-hash' }),
    ]);
    assert.deepEqual(await policy.decide(get(`${SITE}/logo.png`)), { action: 'fulfil', status: 200, headers: { 'content-type': 'image/png' }, body: Buffer.from('PNG') });
    const css = (await policy.decide(get(`${SITE}/a.css`, 'stylesheet'))) as Extract<RequestDecision, { action: 'fulfil' }>;
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.body.toString(), 'body { background: url(/bg.png) }', 'the stylesheet before its links were rewritten');
  });

  it('reads a file the mirror holds once for all the pages that load it, and again when an update changed it', async () => {
    const logo = done(`${SITE}/logo.png`, { content_type: 'image/png', local_path: 'site.test/logo.png', file_sha256: 'v1' });
    const { policy, reads } = policyFor([logo, done(`${SITE}/a.css`, { content_type: 'text/css', local_path: 'site.test/a.css', sha256: 'css-hash' })]);
    for (let page = 0; page < 3; page++) {
      assert.deepEqual(((await policy.decide(get(`${SITE}/logo.png`))) as { body: Buffer }).body, Buffer.from('PNG'));
      assert.equal(((await policy.decide(get(`${SITE}/a.css`, 'stylesheet'))) as { body: Buffer }).body.toString(), 'body { background: url(/bg.png) }');
    }
    assert.deepEqual(reads, ['site.test/logo.png', 'css-hash']);
    logo.file_sha256 = 'v2';
    await policy.decide(get(`${SITE}/logo.png`));
    assert.deepEqual(reads, ['site.test/logo.png', 'css-hash', 'site.test/logo.png']);
  });

  it('does not serve HTML, a failed or a queued URL from the mirror', async () => {
    const { policy } = policyFor([
      done(`${SITE}/page.html`, { content_type: 'text/html', local_path: 'site.test/page.html' }),
      { url: `${SITE}/gone.png`, state: 'failed', http_status: 404 },
      { url: `${SITE}/next.png`, state: 'queued' },
    ]);
    for (const url of [`${SITE}/page.html`, `${SITE}/gone.png`, `${SITE}/next.png`]) assert.equal((await policy.decide(get(url, 'fetch'))).action, 'load', url);
  });

  it('serves a file another page is loading from that page’s capture, counted as captured here too', async () => {
    const { policy } = policyFor();
    const first = (await policy.decide(get(`${SITE}/shared.png`))) as Extract<RequestDecision, { action: 'load' }>;
    const second = policy.decide(get(`${SITE}/shared.png`));
    const response = captured(`${SITE}/shared.png`, 'shared bytes');
    first.onCaptured!(response);
    assert.deepEqual(await second, { action: 'fulfil', status: 200, headers: { 'content-type': 'image/png' }, body: Buffer.from('shared bytes'), capture: response });
    // Once the crawl stored it, the mirror answers: the capture is let go.
    policy.stored([response]);
    assert.equal((await policy.decide(get(`${SITE}/shared.png`))).action, 'load');
  });

  it('lets the next page load a file itself when the first page got nothing', async () => {
    const { policy } = policyFor();
    const first = (await policy.decide(get(`${SITE}/flaky.png`))) as Extract<RequestDecision, { action: 'load' }>;
    const second = policy.decide(get(`${SITE}/flaky.png`));
    first.onCaptured!(undefined);
    const decision = await second;
    assert.equal(decision.action, 'load');
    assert.ok(decision.action === 'load' && decision.onCaptured, 'the second page captures it in turn');
  });
});
