import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Scope } from '../src/scope.ts';
import { DEFAULTS } from '../src/config.ts';

const scope = (overrides: Partial<typeof DEFAULTS.scope> = {}, seed = 'http://h.test/docs/index.html') =>
  new Scope(seed, { ...DEFAULTS.scope, ...overrides });

describe('Scope', () => {
  it('keeps pages on the seed host and refuses other hosts', () => {
    assert.equal(scope().pageSkipReason('http://h.test/other.html'), null);
    assert.equal(scope().pageSkipReason('https://h.test/secure.html'), null);
    assert.equal(scope().pageSkipReason('http://other.test/'), 'out-of-scope');
    assert.equal(scope().pageSkipReason('http://h.test:8080/'), 'out-of-scope');
  });
  it('refuses non-http schemes', () => assert.equal(scope().pageSkipReason('ftp://h.test/x'), 'scheme'));
  it('accepts subdomains only when asked', () => {
    assert.equal(scope().pageSkipReason('http://docs.h.test/'), 'out-of-scope');
    assert.equal(scope({ subdomains: true }).pageSkipReason('http://docs.h.test/'), null);
    assert.equal(scope({ subdomains: true }).pageSkipReason('http://evilh.test/'), 'out-of-scope');
  });
  it('limits pages to a path prefix but lets requisites through', () => {
    const limited = scope({ pathPrefix: '/docs/' });
    assert.equal(limited.pageSkipReason('http://h.test/docs/a.html'), null);
    assert.equal(limited.pageSkipReason('http://h.test/index.html'), 'out-of-scope');
    assert.equal(limited.requisiteSkipReason('http://h.test/picture.png'), null);
  });
  it('lets requisites come from allowed extra hosts, never pages', () => {
    const cdn = scope({ allowedHosts: ['cdn.test'] });
    assert.equal(cdn.requisiteSkipReason('http://cdn.test/lib.js'), null);
    assert.equal(cdn.pageSkipReason('http://cdn.test/page.html'), 'out-of-scope');
    assert.equal(cdn.requisiteSkipReason('http://other.test/lib.js'), 'out-of-scope');
  });
  it('applies exclude patterns to everything and include patterns to pages', () => {
    const filtered = scope({ include: ['/docs/'], exclude: ['\\.zip$', 'orphan2'] });
    assert.equal(filtered.pageSkipReason('http://h.test/docs/orphan2.html'), 'excluded');
    assert.equal(filtered.requisiteSkipReason('http://h.test/files/a.zip'), 'excluded');
    assert.equal(filtered.pageSkipReason('http://h.test/blog/'), 'excluded');
    assert.equal(filtered.requisiteSkipReason('http://h.test/blog/a.png'), null);
  });
});
