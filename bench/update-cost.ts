// What an update of an unchanged site costs: a 1,000-page site is crawled, then updated; prints requests and time.
import { startMutableSite } from '../test/support/mutable-site.ts';
import { runCli, tempDir } from '../test/support/cli.ts';
const N = Number(process.argv[2] ?? 1000);
const pages: Record<string, string> = { '/': Array.from({ length: N }, (_, i) => `<a href="/p${i}.html">${i}</a>`).join(' ') };
for (let i = 0; i < N; i++) pages[`/p${i}.html`] = `<!doctype html><title>P${i}</title><link rel="stylesheet" href="/s.css"><p>${'lorem ipsum '.repeat(200)}</p><a href="/p${(i + 1) % N}.html">next</a>`;
pages['/s.css'] = 'body{color:red}';
const site = await startMutableSite(pages);
const out = await tempDir();
let t = Date.now();
const c = await runCli(['crawl', site.server.origin + '/', '-o', out, '--quiet', '--render', 'never'], { timeoutMs: 300000 });
console.log('crawl', c.code, Date.now() - t, 'ms; requests', site.server.requests.length);
const before = site.server.requests.length;
t = Date.now();
const u = await runCli(['update', out], { timeoutMs: 300000 });
console.log('update', u.code, Date.now() - t, 'ms; requests', site.server.requests.length - before);
console.log(u.stderr.split('\n').filter(l => /Changes|Mirrored/.test(l)).join('\n'));
await site.server.close();
