// URL → file path in the mirror, and relative hrefs between mirror files (DESIGN.md "Output layout"). Pure: no I/O.
//
// Why the mapping is injective: a name is the URL text with some escapes decoded and every unsafe character written
// as %XX (upper-case hex), `%` itself included, so every `%` in a name starts one of our escapes and decoding a name
// gives back the text it came from. An escape is decoded only when its character can never stand literally at
// that place in a parsed URL (the WHATWG parser always encodes it, or reads it as a separator), so decoding
// cannot merge two URLs: `%C3%A7` ⇒ `ç` and `%20` ⇒ ` `, but `%27` stays `%2527` because `'` is a different URL.
import { createHash } from 'node:crypto';
import { mimeTypes } from './mimetypes.js';
import type { ExpectedType } from './types.js';

/** NAME_MAX of ext4, APFS and NTFS (NTFS counts UTF-16 units, which never exceed UTF-8 bytes). */
const NAME_MAX_BYTES = 255;
/** A longer name keeps this many bytes, then `~` + hash + extension. */
const CUT_BYTES = 200;
const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
/** Types that say nothing about the bytes: the name stays as the URL has it (E-07). */
const UNKNOWN_TYPES = new Set(['', 'application/octet-stream']);
/** Folder for an empty path segment (`/a//b`): `.` segments never survive URL parsing, so no segment yields it. */
const EMPTY_SEGMENT = '%2E';

// Unsafe on Linux, macOS or Windows, plus `%` (our escape) and `@` (the query marker).
const UNSAFE_IN_SEGMENT = /[\x00-\x1F\x7F%/\\<>:"|?*@]/g;
const UNSAFE_IN_QUERY = /[\x00-\x1F\x7F%/\\<>:"|?*@#]/g;
// Escapes of these may be decoded: the WHATWG URL parser never leaves them literal in a path or a query
// (path/query percent-encode sets; `/` and `\` are path separators, `#` starts the fragment).
const DECODABLE_IN_PATH = ' "#<>?`{}/\\';
const DECODABLE_IN_QUERY = ' "#<>\'';
/** RFC 3986 §6.2.2: escapes of unreserved characters are the characters themselves (as normalizeUrl does). */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** An extension: a dot, then up to 10 ASCII letters or digits with at least one letter (`.png`, `.mp4`, not `.2`). */
const EXTENSION = /\.(?=[A-Za-z0-9]{0,9}[A-Za-z])[A-Za-z0-9]{1,10}$/;
/** Windows device names, reserved with any extension and before trailing spaces (`aux.html`, `CON`, `com1.txt`). */
const DEVICE_NAME = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(?=[. ]|$)/i;
/** What an href may hold literally: RFC 3986 pchar minus `%`, and minus `'()&` so it is safe in CSS url() and attributes. */
const HREF_SAFE_CHARS = 'A-Za-z0-9\\-._~!$*+,;=:@';
const HREF_SAFE = new RegExp(`^[${HREF_SAFE_CHARS}]$`);
const HREF_SAFE_SEGMENT = new RegExp(`^[${HREF_SAFE_CHARS}]*$`);
/** Segments that all need no escape, with the slashes between them. */
const HREF_SAFE_PATH = new RegExp(`^[${HREF_SAFE_CHARS}/]*$`);
const SLASH = 0x2f;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Path of the file that holds `url` in the mirror, relative to the output root, '/'-separated, starting with the host
 * folder. `mediaType` is the bare lower-case media type of the response ('' or undefined when unknown).
 *
 * - `http://h/` ⇒ `h/index.html`; `http://h/docs/` ⇒ `h/docs/index.html` (text/html)
 * - `http://127.0.0.1:8080/x` ⇒ `127.0.0.1_8080/x` (no type); http and https of one host share the folder
 * - `http://h/subdir` ⇒ `h/subdir.html`; `http://h/control.php` ⇒ `h/control.php.html` (text/html)
 * - `http://h/search?q=mirror` ⇒ `h/search@q=mirror.html` (text/html)
 * - `http://h/css?family=Lato` ⇒ `h/css@family=Lato.css` (text/css)
 * - `http://h/img.png?v=2` ⇒ `h/img.png@v=2.png` (image/png); `http://h/logo` ⇒ `h/logo.png` (image/png)
 * - `http://h/wrongtype.jpg` ⇒ `h/wrongtype.jpg` (image/png); `http://h/notype.png` ⇒ `h/notype.png` (no type)
 * - `http://h/p1_fran%C3%A7ais.html` ⇒ `h/p1_français.html`; `http://h/a:b%27` ⇒ `h/a%3Ab%2527`
 * - `http://h/aux.html` ⇒ `h/%61ux.html`; `http://h/a%2F..%2Fb` ⇒ `h/a%2F..%2Fb`; `http://h/a//b` ⇒ `h/a/%2E/b`
 * - a name over 255 bytes ⇒ its first 200 bytes + `~1a2b3c4d` (sha256 of the whole name) + its extension
 *
 * Distinct URLs get distinct paths except these aliases, which the path registry resolves (first owner keeps the
 * path, others get {@link disambiguate}): `/a/` and `/a/index.html` (or `/a/index` as HTML) share `a/index.html`;
 * `/a` (HTML) and `/a.html` share `a.html`, likewise `/logo` (image/png) and `/logo.png`, `/css` (text/css) and
 * `/css.css`; http and https of one host share a folder; user:password@ is ignored. Names differing only in
 * letter case or Unicode normalisation are distinct here but collide on case-insensitive file systems.
 * @throws TypeError for an unparsable or non-http(s) URL.
 */
export function localPathFor(url: string, mediaType?: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`Not an http(s) URL: ${url}`);
  const segments = parsed.pathname.slice(1).split('/');
  const last = segments.pop() ?? '';
  // Joined as it goes: spreading the folders' array (of no strings or of some) deoptimised this function.
  let path = hostFolder(parsed);
  for (const segment of segments) path += '/' + (segment === '' ? EMPTY_SEGMENT : fitName(guardName(segmentName(segment))));
  let name = last === '' ? 'index' : segmentName(last);
  if (parsed.search.length > 1) {
    name += '@' + encodeUnsafe(decodeComponent(parsed.search.slice(1), DECODABLE_IN_QUERY), UNSAFE_IN_QUERY);
  }
  const type = (mediaType ?? '').split(';')[0].trim().toLowerCase();
  return path + '/' + fitName(guardName(withExtension(name, type)));
}

/**
 * The path before the fetch: 'html' predicts text/html, 'css' predicts text/css, 'other' keeps the URL's own
 * extension (as localPathFor with an unknown type): `http://h/about`, 'html' ⇒ `h/about.html`; 'other' ⇒ `h/about`.
 */
export function predictedPathFor(url: string, expected: ExpectedType): string {
  const type = expected === 'html' ? 'text/html' : expected === 'css' ? 'text/css' : '';
  return localPathFor(url, type);
}

/**
 * A deterministic alternative name for `path` when another URL already owns it: inserts `~` + the first 8 hex
 * chars of sha256(url) before the extension: `h/a.html` + url ⇒ `h/a~1a2b3c4d.html`; `h/LICENSE` ⇒ `h/LICENSE~1a2b3c4d`.
 * The name is shortened if needed to stay within 255 bytes. The registry must still check the result is free.
 */
export function disambiguate(path: string, url: string): string {
  const slash = path.lastIndexOf('/');
  const { stem, ext } = splitExtension(path.slice(slash + 1));
  const tail = `~${shortHash(url)}${ext}`;
  return path.slice(0, slash + 1) + cutBytes(stem, NAME_MAX_BYTES - Buffer.byteLength(tail)) + tail;
}

/**
 * Which of several URLs that share one file (aliases with identical bytes, see localPathFor) names it, so the mirror
 * does not depend on the order they were fetched in: the shortest, then the first in code-unit order.
 * `['http://h/a/index.html', 'http://h/a/']` ⇒ `'http://h/a/'`; `['http://h/b.html', 'http://h/b']` ⇒ `'http://h/b'`.
 */
export function preferredAlias(urls: readonly string[]): string {
  if (urls.length === 0) throw new RangeError('preferredAlias needs at least one URL');
  return urls.reduce((best, url) => (url.length < best.length || (url.length === best.length && url < best) ? url : best));
}

/**
 * The href that, written in the file `fromFile`, opens `toFile` (both root-relative paths as returned above),
 * percent-encoded for an HTML attribute or an unquoted CSS url(). A browser decodes it once, so the `%` of our
 * names becomes `%25`.
 * - `h/a/x.html` → `h/b/y.html` ⇒ `../b/y.html`; `h/a.html` → `h/a.html` ⇒ `a.html`
 * - `h/index.html` → `h/index@b=2&c=3.html` ⇒ `index@b=2%26c=3.html`; → `h/a%3Ab.html` ⇒ `a%253Ab.html`
 * - `h/index.html` → `h/Hello Günter.png` ⇒ `Hello%20G%C3%BCnter.png`; a first segment with `:` gets `./` in front
 */
export function relativeHref(fromFile: string, toFile: string): string {
  // Both paths agree up to their last shared '/': the folders before it are common (a file name never ends in '/').
  // Index arithmetic instead of split, spread and join: this runs for every link of every page.
  let common = 0;
  for (let i = 0; i < fromFile.length && i < toFile.length && fromFile.charCodeAt(i) === toFile.charCodeAt(i); i++) {
    if (fromFile.charCodeAt(i) === SLASH) common = i + 1;
  }
  let up = '';
  for (let i = fromFile.indexOf('/', common); i !== -1; i = fromFile.indexOf('/', i + 1)) up += '../';
  const rest = toFile.slice(common);
  const down = HREF_SAFE_PATH.test(rest) ? rest : rest.split('/').map(encodeHrefSegment).join('/');
  if (up !== '') return up + down;
  // `a:b` would read as a scheme, `//x` as a host (RFC 3986 §4.2).
  const slash = down.indexOf('/');
  return (slash === -1 ? down : down.slice(0, slash)).includes(':') || down.startsWith('/') ? `./${down}` : down;
}

/** Folder names by host and port: a crawl asks for the same few over and over (twice for every URL it meets). */
const hostFolders = new Map<string, string>();
const HOST_FOLDERS_KEPT = 1024;

function hostFolder(url: URL): string {
  let folder = hostFolders.get(url.host);
  if (folder === undefined) {
    if (hostFolders.size >= HOST_FOLDERS_KEPT) hostFolders.clear();
    hostFolders.set(url.host, (folder = hostFolderName(url.hostname, url.port)));
  }
  return folder;
}

function hostFolderName(hostname: string, port: string): string {
  let host = encodeUnsafe(hostname, UNSAFE_IN_SEGMENT);
  // A host such as `a_8080` must not read as host `a` on port 8080; `.x` must not shadow `.sitemirror`.
  host = host.replace(/_(\d+)$/, '%5F$1').replace(/^\./, '%2E');
  return fitName(guardName(host) + (port === '' ? '' : `_${port}`));
}

function segmentName(segment: string): string {
  return encodeUnsafe(decodeComponent(segment, DECODABLE_IN_PATH), UNSAFE_IN_SEGMENT);
}

/** HTML must end in .html/.htm and CSS in .css to open right from disk; other known types keep a URL extension. */
function withExtension(name: string, type: string): string {
  if (HTML_TYPES.has(type)) return /\.html?$/i.test(name) ? name : `${name}.html`;
  if (type === 'text/css') return /\.css$/i.test(name) ? name : `${name}.css`;
  if (UNKNOWN_TYPES.has(type) || EXTENSION.test(name)) return name;
  const ext = mimeTypes().extension(type);
  return ext ? `${name}.${ext}` : name;
}

/** No `.`/`..`, no Windows device name, no trailing dot or space (Windows drops them). */
function guardName(name: string): string {
  if (name === '.' || name === '..') return name.replace(/\./g, '%2E');
  let out = DEVICE_NAME.test(name) ? escapeByte(name.charCodeAt(0)) + name.slice(1) : name;
  if (/[. ]$/.test(out)) out = out.slice(0, -1) + escapeByte(out.charCodeAt(out.length - 1));
  return out;
}

/** A name over 255 bytes keeps 200, then `~` + hash of the whole name (so shared prefixes differ), then its extension. */
function fitName(name: string): string {
  if (Buffer.byteLength(name) <= NAME_MAX_BYTES) return name;
  const { stem, ext } = splitExtension(name);
  return `${cutBytes(stem, CUT_BYTES)}~${shortHash(name)}${ext}`;
}

function splitExtension(name: string): { stem: string; ext: string } {
  const match = EXTENSION.exec(name);
  return match ? { stem: name.slice(0, match.index), ext: match[0] } : { stem: name, ext: '' };
}

/** The longest prefix within `maxBytes` that splits neither a character nor one of our %XX escapes. */
function cutBytes(text: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const token of text.match(/%[0-9A-F]{2}|[\s\S]/gu) ?? []) {
    bytes += Buffer.byteLength(token);
    if (bytes > maxBytes) break;
    out += token;
  }
  return out;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/**
 * Decodes the escapes whose characters are unreserved, in `decodable`, or non-ASCII valid UTF-8 (WHATWG encoding);
 * every other escape is kept as written, with upper-case hex.
 */
function decodeComponent(text: string, decodable: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
    let out = '';
    for (let i = 0; i < bytes.length; ) {
      if (bytes[i] < 0x80) {
        const char = String.fromCharCode(bytes[i]);
        const control = bytes[i] < 0x20 || bytes[i] === 0x7f;
        out += UNRESERVED.test(char) || control || decodable.includes(char) ? char : escapeByte(bytes[i]);
        i += 1;
        continue;
      }
      let end = i;
      while (end < bytes.length && bytes[end] >= 0x80) end += 1;
      const chunk = bytes.subarray(i, end);
      try {
        out += UTF8.decode(chunk);
      } catch {
        out += Array.from(chunk, escapeByte).join('');
      }
      i = end;
    }
    return out;
  });
}

function encodeUnsafe(text: string, unsafe: RegExp): string {
  return text.replace(unsafe, (char) => escapeByte(char.charCodeAt(0)));
}

function encodeHrefSegment(segment: string): string {
  // Most segments need no escape: one regular expression instead of one test per character.
  if (HREF_SAFE_SEGMENT.test(segment)) return segment;
  let out = '';
  for (const char of segment) {
    out += HREF_SAFE.test(char) ? char : Array.from(Buffer.from(char, 'utf8'), escapeByte).join('');
  }
  return out;
}

function escapeByte(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}
