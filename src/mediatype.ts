// What a response really is: the Content-Type, unless the first bytes clearly say otherwise
// (a small, conservative subset of the WHATWG MIME Sniffing standard). Pure: no I/O.
import { mimeTypes } from './mimetypes.js';
import { pathnameOf } from './url.js';

/** A byte pattern at the start of the body; null matches any byte. */
interface Signature {
  type: string;
  pattern: (number | null)[];
}

const ascii = (text: string): number[] => Array.from(text, (char) => char.charCodeAt(0));
const ANY4 = [null, null, null, null];

/** Binary formats that are never text: a body starting with one of these is that format, whatever the label. */
const SIGNATURES: Signature[] = [
  { type: 'image/png', pattern: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'image/jpeg', pattern: [0xff, 0xd8, 0xff] },
  { type: 'image/gif', pattern: ascii('GIF87a') },
  { type: 'image/gif', pattern: ascii('GIF89a') },
  { type: 'image/webp', pattern: [...ascii('RIFF'), ...ANY4, ...ascii('WEBPVP')] },
  { type: 'application/pdf', pattern: ascii('%PDF-') },
  { type: 'application/zip', pattern: [0x50, 0x4b, 0x03, 0x04] },
  { type: 'application/gzip', pattern: [0x1f, 0x8b, 0x08] },
  { type: 'font/woff', pattern: ascii('wOFF') },
  { type: 'font/woff2', pattern: ascii('wOF2') },
  { type: 'image/x-icon', pattern: [0x00, 0x00, 0x01, 0x00] },
];

/** How much of the body the HTML sniffer reads: enough for a BOM, whitespace and a few leading comments. */
const HTML_SNIFF_BYTES = 4096;
const HTML_START = /^<(?:!doctype\s*html|html|head|body)(?=[\s>/]|$)/i;
const HTML_EXTENSION = /\.html?$/i;

/**
 * The media type to act on: the header's type unless the bytes clearly say otherwise. Returns a bare lower-case type.
 *
 * - text/html (also '', application/octet-stream, and text/plain on an .html/.htm URL) whose body starts, after an
 *   optional BOM and whitespace, with a PNG, JPEG, GIF, WebP, PDF, ZIP, gzip, WOFF/WOFF2 or ICO signature
 *   ⇒ that format: `lie.png`, PNG bytes labelled text/html ⇒ `image/png` (E-07).
 * - '' or application/octet-stream: a body starting with `<!doctype html`, `<html`, `<head` or `<body` (after BOM,
 *   whitespace, comments) ⇒ `text/html`; else a signature; else the type of the URL's extension
 *   (`notype.png` ⇒ `image/png`); else ''.
 * - Anything else: the header's type (`wrongtype.jpg`, JPEG bytes labelled image/png ⇒ `image/png`).
 */
export function effectiveMediaType(headerType: string, body: Buffer, url: string): string {
  const declared = headerType.trim().toLowerCase();
  const unlabelled = declared === '' || declared === 'application/octet-stream';
  const mayBeMislabelled =
    unlabelled || declared === 'text/html' || (declared === 'text/plain' && HTML_EXTENSION.test(pathnameOf(url)));
  if (!mayBeMislabelled) return declared;
  if (unlabelled && looksLikeHtml(body)) return 'text/html';
  const signed = signatureType(body);
  if (signed) return signed;
  if (!unlabelled) return declared;
  return typeFromExtension(url);
}

function signatureType(body: Buffer): string | undefined {
  const start = skipBomAndWhitespace(body);
  return SIGNATURES.find(({ pattern }) =>
    start + pattern.length <= body.length && pattern.every((byte, i) => byte === null || body[start + i] === byte),
  )?.type;
}

function skipBomAndWhitespace(body: Buffer): number {
  let i = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  // ASCII whitespace as the WHATWG sniffing algorithm counts it: TAB, LF, FF, CR, SPACE.
  while (i < body.length && [0x09, 0x0a, 0x0c, 0x0d, 0x20].includes(body[i])) i += 1;
  return i;
}

function looksLikeHtml(body: Buffer): boolean {
  let text = headText(body.subarray(0, HTML_SNIFF_BYTES));
  for (;;) {
    text = text.replace(/^[\t\n\f\r ]+/, '');
    if (!text.startsWith('<!--')) break;
    const end = text.indexOf('-->', 4);
    if (end === -1) return false;
    text = text.slice(end + 3);
  }
  return HTML_START.test(text);
}

/** The start of the body as text: UTF-16 if its BOM says so, else byte per character (only ASCII matters here). */
function headText(head: Buffer): string {
  if (head[0] === 0xfe && head[1] === 0xff) return new TextDecoder('utf-16be').decode(head.subarray(2));
  if (head[0] === 0xff && head[1] === 0xfe) return new TextDecoder('utf-16le').decode(head.subarray(2));
  const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  return head.subarray(bom).toString('latin1');
}

function typeFromExtension(url: string): string {
  const pathname = pathnameOf(url);
  if (pathname === '' || pathname.endsWith('/')) return '';
  const type = mimeTypes().lookup(pathname);
  return type ? type.toLowerCase() : '';
}
