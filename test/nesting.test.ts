// Absurdly deep HTML (src/nesting.ts): nesting capped at 512 levels as in browsers, in linear time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { load } from 'cheerio';
import { hasChildren, type AnyNode } from 'domhandler';
import { capNesting, estimateNesting, flattenDeepNodes, loadHtml, MAX_TREE_DEPTH } from '../src/nesting.ts';

function treeDepth(root: AnyNode): number {
  let deepest = 0;
  const stack: [AnyNode, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    deepest = Math.max(deepest, depth);
    if (hasChildren(node)) for (const child of node.children) stack.push([child, depth + 1]);
  }
  return deepest;
}

const nested = (depth: number, inner = '<a href="x.html">x</a>') => `<!doctype html><title>t</title>${'<div>'.repeat(depth)}${inner}${'</div>'.repeat(depth)}<p>after</p>`;

describe('estimateNesting', () => {
  it('counts open elements, leaving out void elements and those a sibling closes', () => {
    assert.equal(estimateNesting('<html><body><div><p>a<p>b<br><img src=x><ul><li>1<li>2</ul></div></body></html>', 100), 4);
    assert.equal(estimateNesting(nested(1000), 100_000), 1001, 'a thousand divs and the link inside');
  });

  it('stops counting above its limit', () => {
    assert.equal(estimateNesting(nested(100_000), 50), 51);
  });
});

describe('capNesting', () => {
  it('closes a start tag past the cap at once and drops its end tag, so its content follows as siblings', () => {
    assert.equal(capNesting('<div><div><div>x</div>y</div></div>', 2), '<div><div><div></div>xy</div></div>');
  });

  it('copies comments and raw-text elements as they are', () => {
    const html = '<div><script>if (a<b) document.write("<div><div>")</script><!-- <div><div> --><style>p>a{}</style>x</div>';
    assert.equal(capNesting(html, 1), html);
  });
});

describe('flattenDeepNodes', () => {
  it('moves what lies below the limit up to the ancestor at the limit, in document order', () => {
    const $ = load('<div id="a"><div id="b"><div id="c"><i id="d">1</i>2</div>3</div></div>', null, false);
    assert.ok(flattenDeepNodes($.root()[0]!, 2));
    assert.equal($.html(), '<div id="a"><div id="b"><div id="c"></div><i id="d"></i>123</div></div>');
  });

  it('leaves a shallow tree as it is', () => {
    const $ = load('<div><p>a</p></div>', null, false);
    assert.equal(flattenDeepNodes($.root()[0]!, 5), false);
    assert.equal($.html(), '<div><p>a</p></div>');
  });
});

describe('loadHtml', () => {
  it('parses 100,000 nested elements in about a second, capped at the browser depth, keeping every link and the text after', () => {
    const started = Date.now();
    const $ = loadHtml(nested(100_000));
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.ok(treeDepth($.root()[0]!) <= MAX_TREE_DEPTH + 1);
    assert.equal($('a[href="x.html"]').length, 1);
    assert.equal($('p').text(), 'after');
    assert.equal($('div').length, 100_000);
    assert.ok($.html().length > 1_000_000, 'serializes without overflowing the stack');
  });

  it('builds the same tree as parse5 for an ordinary page', () => {
    const page = '<!doctype html><title>t</title><table><tr><td>a<p>b<div>c</table><b>bold<i>both</b>italic</i>';
    assert.equal(loadHtml(page).html(), load(page).html());
  });
});
