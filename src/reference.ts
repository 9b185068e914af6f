// A link as written in an HTML or CSS document: whether it names an http(s) resource, how its rewritten
// form is written, and how rewritten values are spliced back into the original text. Pure.
import type { ExpectedType, LinkResolver, Reference, ReferenceKind } from './types.js';
import { fragmentOf, resolveUrl } from './url.js';

/** Where a link points: the absolute URL without its fragment, and the fragment as written ('#x' or ''). */
export interface LinkTarget {
  url: string;
  fragment: string;
}

// The WHATWG URL parser drops ASCII tab and newline anywhere and C0 controls or spaces at either end.
const TAB_OR_NEWLINE = /[\t\n\r]/g;
const EDGE_CONTROLS = /^[\u0000-\u0020]+|[\u0000-\u0020]+$/g;

/**
 * The target of a link value, or null when the value is left exactly as written: empty, fragment-only,
 * a non-http(s) scheme (mailto:, javascript:, data:, …) or a URL that does not parse.
 */
export function linkTarget(value: string, baseUrl: string): LinkTarget | null {
  const cleaned = value.replace(TAB_OR_NEWLINE, '').replace(EDGE_CONTROLS, '');
  if (cleaned === '' || cleaned.startsWith('#')) return null;
  const absolute = resolveUrl(cleaned, baseUrl);
  if (absolute === null) return null;
  const hash = absolute.indexOf('#');
  return { url: hash === -1 ? absolute : absolute.slice(0, hash), fragment: fragmentOf(cleaned) };
}

/** The value to write for a link: the resolver's relative path, or the absolute origin URL; the fragment kept. */
export function rewrittenLink(target: LinkTarget, resolve: LinkResolver): string {
  return (resolve(target.url) ?? target.url) + target.fragment;
}

/** References in first-seen order, one per URL; a URL first seen as a page and later as a requisite becomes a requisite. */
export class ReferenceList {
  private readonly byUrl = new Map<string, Reference>();

  add(url: string, kind: ReferenceKind, expected: ExpectedType): void {
    const seen = this.byUrl.get(url);
    if (seen === undefined) {
      this.byUrl.set(url, { url, kind, expected });
    } else if (seen.kind === 'page' && kind === 'requisite') {
      seen.kind = kind;
      seen.expected = expected;
    }
  }

  addAll(references: readonly Reference[]): void {
    for (const reference of references) this.add(reference.url, reference.kind, reference.expected);
  }

  toArray(): Reference[] {
    return [...this.byUrl.values()];
  }
}

/** A span [start, end) of the original text to replace. */
export interface TextSpan {
  start: number;
  end: number;
}

/**
 * Replaces each span (in ascending, non-overlapping order) with replacementOf(span); the text between spans is
 * copied as it was. Built with one join, so a million spans stay linear.
 */
export function spliceText<S extends TextSpan>(text: string, spans: readonly S[], replacementOf: (span: S) => string): string {
  if (spans.length === 0) return text;
  const parts: string[] = [];
  let cursor = 0;
  for (const span of spans) {
    parts.push(text.slice(cursor, span.start), replacementOf(span));
    cursor = span.end;
  }
  parts.push(text.slice(cursor));
  return parts.join('');
}
