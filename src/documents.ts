// One seam over the two kinds of document whose links are rewritten: HTML pages and stylesheets. Pure.
import { isAscii } from 'node:buffer';
import { decodeStylesheet, parseStylesheet } from './css.js';
import { decodeHtml, htmlWithoutScripts, parseHtml, runsScripts } from './html.js';
import type { LinkResolver, Reference } from './types.js';
import { withoutFragment } from './url.js';

export interface MirrorDocument {
  references: Reference[];
  /** The page asked robots not to follow its links (meta robots or X-Robots-Tag). */
  nofollow: boolean;
  title: string | null;
  /** The document with its links rewritten, as UTF-8 bytes. Call once. */
  render(resolve: LinkResolver): Buffer;
}

export interface DocumentInput {
  /** The URL the document was finally served from (after redirects). */
  url: string;
  mediaType: string;
  charset: string | undefined;
  body: Buffer;
  /** X-Robots-Tag header value, if any. */
  robotsHeader?: string;
}

export interface DocumentOptions {
  canonical: boolean;
  dropScripts: boolean;
}

export function isHtmlType(mediaType: string): boolean {
  return mediaType === 'text/html' || mediaType === 'application/xhtml+xml';
}

/**
 * A rendered snapshot (UTF-8 HTML) without scripts, inline event handlers and <noscript>. The crawler keeps this as
 * the page's body, so a later rewrite of its links (link settlement) starts from the same script-free page.
 */
export function withoutScripts(snapshot: Buffer): Buffer {
  return Buffer.from(htmlWithoutScripts(snapshot.toString('utf8')), 'utf8');
}

/** Whether an HTML page runs scripts in a browser (see runsScripts): the bytes as sent, decoded as for extraction. */
export async function pageRunsScripts(body: Buffer, charset: string | undefined): Promise<boolean> {
  return runsScripts((await decodeHtml(body, charset)).text);
}

/** Opens an HTML page or a stylesheet for extraction and rewriting; null for every other kind of file (kept byte for byte). */
export async function openDocument(input: DocumentInput, options: DocumentOptions): Promise<MirrorDocument | null> {
  if (isHtmlType(input.mediaType)) {
    const { text } = await decodeHtml(input.body, input.charset);
    const page = parseHtml(text, input.url);
    // Most pages are ASCII (non-ASCII written as entities): their rewrite is copied from the bytes as served.
    const ascii = text.length === input.body.length && isAscii(input.body);
    const headerNofollow = /\b(nofollow|none)\b/i.test(input.robotsHeader ?? '');
    return {
      references: page.references,
      nofollow: page.nofollow || headerNofollow,
      title: page.title || null,
      render: (resolve) => {
        const serializeOptions = { canonicalUrl: options.canonical ? withoutFragment(input.url) : null, dropScripts: options.dropScripts };
        return ascii ? page.serializeAscii(input.body, resolve, serializeOptions) : Buffer.from(page.serialize(resolve, serializeOptions), 'utf8');
      },
    };
  }
  if (input.mediaType === 'text/css') {
    const sheet = parseStylesheet(decodeStylesheet(input.body, input.charset), input.url);
    return {
      references: sheet.references,
      nofollow: false,
      title: null,
      render: (resolve) => Buffer.from(sheet.serialize(resolve), 'utf8'),
    };
  }
  return null;
}
