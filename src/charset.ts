// Bytes to text by WHATWG Encoding labels, shared by the HTML and CSS decoders. Pure.
import { lazyRequire } from './lazy.js';

/**
 * iconv-lite, loaded when first needed: windows-1252 and the encodings this Node's ICU lacks. Its tables cost ~7 ms
 * of CPU to load, spent by every crawl of a UTF-8 site before.
 */
const iconv = lazyRequire<typeof import('iconv-lite')>('iconv-lite');

/**
 * The WHATWG encoding name for a label ('latin1' and 'iso-8859-1' ⇒ 'windows-1252', 'gb2312' ⇒ 'gbk'), or null
 * for a missing, unknown or undecodable label (such as 'replacement').
 */
export function encodingForLabel(label: string | undefined): string | null {
  const trimmed = label?.trim();
  if (!trimmed) return null;
  try {
    return new TextDecoder(trimmed).encoding;
  } catch {
    // Node built without full ICU lacks the legacy CJK decoders; iconv-lite has them.
    return iconv().encodingExists(trimmed) ? trimmed.toLowerCase() : null;
  }
}

/** Decodes with a name encodingForLabel accepted; a byte order mark of that encoding is dropped. */
export function decodeBytes(body: Uint8Array, encoding: string): string {
  // Node 20's TextDecoder decodes windows-1252 as ISO-8859-1, turning 0x80–0x9F (€, “, ”, –) into C1 controls.
  if (encoding.toLowerCase() !== 'windows-1252') {
    try {
      return new TextDecoder(encoding).decode(body);
    } catch {
      // not in this Node's ICU: iconv-lite below
    }
  }
  return iconv().decode(Buffer.from(body.buffer, body.byteOffset, body.byteLength), encoding);
}

/** The encoding a byte order mark at the start of body names (UTF-8, UTF-16BE or UTF-16LE), or null. */
export function bomEncoding(body: Uint8Array): string | null {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'utf-8';
  if (body[0] === 0xfe && body[1] === 0xff) return 'utf-16be';
  if (body[0] === 0xff && body[1] === 0xfe) return 'utf-16le';
  return null;
}
