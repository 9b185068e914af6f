// HTML that nests absurdly deep (100,000 levels) must not stall or crash the crawl. Browsers stop nesting at 512
// levels (Blink's kMaximumHTMLParserDOMTreeDepth: deeper elements become siblings); parse5's tree construction is
// quadratic in the depth and serializers recurse once per level. Pure: no I/O.
import { load, type CheerioAPI } from 'cheerio';
import { hasChildren, type AnyNode, type ParentNode } from 'domhandler';

/** Deeper nodes are moved up to their ancestor at this depth, as Blink does while parsing. */
export const MAX_TREE_DEPTH = 512;
/** Above this estimated depth parse5 would take seconds (0.7 s at 10,000, minutes at 100,000). */
const PARSE5_SAFE_DEPTH = 2048;

/** Elements that never nest: void elements, and those a sibling start tag closes on its own (p, li, td, …). */
const NOT_NESTING = new Set(
  'area base br col embed hr img input keygen link meta param source track wbr p li dt dd option optgroup tr td th thead tbody tfoot rb rt rp'.split(' '),
);
const TAG = /<(\/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>/g;

/**
 * An upper estimate of how deep the elements of `html` nest, from its tags alone (start tags minus end tags, void
 * and self-closing siblings left out); stops counting above `stopAt`. Script text that looks like tags counts too,
 * which only errs towards the careful path.
 */
export function estimateNesting(html: string, stopAt: number): number {
  let depth = 0;
  let deepest = 0;
  TAG.lastIndex = 0;
  for (let match = TAG.exec(html); match !== null; match = TAG.exec(html)) {
    const name = match[2]!.toLowerCase();
    if (NOT_NESTING.has(name)) continue;
    if (match[1] === '/') depth = Math.max(0, depth - 1);
    else if (++depth > deepest) {
      deepest = depth;
      if (deepest > stopAt) return deepest;
    }
  }
  return deepest;
}

/**
 * Moves every node deeper than `maxDepth` (the document's children are at depth 1) up to be a child of its ancestor
 * at `maxDepth`, in document order, as a browser parser does. Returns whether anything moved.
 */
export function flattenDeepNodes(root: ParentNode, maxDepth = MAX_TREE_DEPTH): boolean {
  let moved = false;
  const stack: [ParentNode, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth === maxDepth) {
      if (node.children.some(hasChildren)) {
        node.children = descendantsOf(node);
        relink(node);
        moved = true;
      }
      continue;
    }
    for (const child of node.children) if (hasChildren(child)) stack.push([child, depth + 1]);
  }
  return moved;
}

/** Every node below `node` in document order, each stripped of its own children. */
function descendantsOf(node: ParentNode): AnyNode[] {
  const flat: AnyNode[] = [];
  const stack: AnyNode[] = [...node.children].reverse();
  while (stack.length > 0) {
    const current = stack.pop()!;
    flat.push(current);
    if (hasChildren(current)) {
      for (let i = current.children.length - 1; i >= 0; i--) stack.push(current.children[i]!);
      current.children = [];
    }
  }
  return flat;
}

function relink(parent: ParentNode): void {
  const children = parent.children;
  children.forEach((child, i) => {
    child.parent = parent;
    child.prev = children[i - 1] ?? null;
    child.next = children[i + 1] ?? null;
  });
}

/** Elements whose content is text to the tokenizer: tags inside them are not tags. */
const RAW_TEXT = new Set('script style textarea title xmp noscript noembed noframes iframe plaintext'.split(' '));
const TOKEN = /<!--|<(\/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>/g;

/**
 * Rewrites the tags of `html` so that elements nest at most `cap` deep, in one linear pass: a start tag that would
 * go deeper is closed at once (its content follows as siblings, as in a browser) and its end tag is dropped.
 * Comments and raw-text elements (script, style, …) are copied as they are.
 */
export function capNesting(html: string, cap = MAX_TREE_DEPTH): string {
  const out: string[] = [];
  let copied = 0;
  let depth = 0;
  let closedEarly = 0;
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(html); match !== null; match = TOKEN.exec(html)) {
    const end = TOKEN.lastIndex;
    if (match[0] === '<!--') {
      const close = html.indexOf('-->', end);
      TOKEN.lastIndex = close === -1 ? html.length : close + 3;
      continue;
    }
    const name = match[2]!.toLowerCase();
    const isEnd = match[1] === '/';
    if (!isEnd && RAW_TEXT.has(name)) {
      const close = html.toLowerCase().indexOf(`</${name}`, end);
      TOKEN.lastIndex = close === -1 ? html.length : close;
      continue;
    }
    if (NOT_NESTING.has(name) || RAW_TEXT.has(name)) continue;
    if (!isEnd && depth >= cap) {
      out.push(html.slice(copied, end), `</${name}>`);
      copied = end;
      closedEarly++;
    } else if (!isEnd) {
      depth++;
    } else if (closedEarly > 0) {
      out.push(html.slice(copied, match.index));
      copied = end;
      closedEarly--;
    } else {
      depth = Math.max(0, depth - 1);
    }
  }
  out.push(html.slice(copied));
  return out.join('');
}

/**
 * Parses a page as parse5 does (the WHATWG tree), with its nesting capped at MAX_TREE_DEPTH. The tags of a page
 * that nests too deep for parse5 are capped first, in one linear pass over the text.
 */
export function loadHtml(html: string): CheerioAPI {
  const text = estimateNesting(html, PARSE5_SAFE_DEPTH) > PARSE5_SAFE_DEPTH ? capNesting(html) : html;
  const $ = load(text);
  flattenDeepNodes($.root()[0]!);
  return $;
}
