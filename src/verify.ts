// Proves a mirror whole: every recorded file matches its hash, every local link in the mirror opens a file.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { DEFAULTS, parseStoredOptions } from './config.js';
import { parseStylesheet } from './css.js';
import { SitemirrorError } from './errors.js';
import { parseHtml } from './html.js';
import { openState, recordedStateUrl } from './state.js';
import { STATE_DIR, WACZ_FILE, sha256 } from './store.js';

export interface VerifyProblem {
  kind: 'missing-file' | 'hash-mismatch' | 'broken-link' | 'archive';
  /** The mirror-relative file concerned. */
  path: string;
  detail: string;
}

export interface VerifyResult {
  filesChecked: number;
  linksChecked: number;
  /** The WACZ (--wacz), when the mirror has one: its files and index lines checked. */
  archive?: { path: string; filesChecked: number; indexLinesChecked: number };
  problems: VerifyProblem[];
}

/** A base that no real link uses, so a relative link resolves to it and an absolute origin URL does not. */
const MIRROR_BASE = 'http://mirror.sitemirror.invalid/';

export async function verifyMirror(outputDir: string, stateUrl?: string): Promise<VerifyResult> {
  const root = resolve(outputDir);
  if (stateUrl === undefined && recordedStateUrl(root) === undefined && !existsSync(join(root, STATE_DIR, 'state.db'))) {
    throw new SitemirrorError('USAGE', `${outputDir} holds no sitemirror state (.sitemirror/state.db): not a mirror`);
  }
  const state = await openState({ outputDir: root, stateUrl, purpose: 'verify' });
  try {
    const storedOptions = await state.getMeta('options');
    const options = storedOptions === undefined ? undefined : parseStoredOptions(storedOptions);
    const maxParseBytes = options?.maxParseBytes ?? DEFAULTS.maxParseBytes;
    const problems: VerifyProblem[] = [];
    let filesChecked = 0;
    let linksChecked = 0;
    const filesFound = new Map<string, boolean>();
    for await (const record of state.filesWritten()) {
      filesChecked++;
      const path = record.own_path;
      const bytes = await readFile(join(root, path)).catch(() => undefined);
      if (bytes === undefined) {
        problems.push({ kind: 'missing-file', path, detail: `the file for ${record.url} is missing` });
        continue;
      }
      if (sha256(bytes) !== record.file_sha256) {
        problems.push({ kind: 'hash-mismatch', path, detail: `the file for ${record.url} changed since it was written` });
      }
      // A document over --max-parse-size was kept as the origin sent it: its links are the origin's, not ours to check.
      const unparsed = record.bytes !== null && record.bytes > maxParseBytes && record.file_sha256 === record.sha256;
      const links = unparsed ? [] : localLinks(path, bytes, record.content_type ?? '');
      linksChecked += links.length;
      for (const link of links) {
        if (!isFileInside(root, link.target, filesFound)) problems.push({ kind: 'broken-link', path, detail: `${link.href} does not open a file in the mirror` });
      }
    }
    const archive = await verifyArchive(root, options?.wacz ?? false, problems);
    return { filesChecked, linksChecked, ...(archive ? { archive } : {}), problems };
  } finally {
    await state.close();
  }
}

/** The WACZ a --wacz mirror keeps beside its state; one that should be there and is not is a problem too. */
async function verifyArchive(root: string, expected: boolean, problems: VerifyProblem[]): Promise<VerifyResult['archive']> {
  const path = join(STATE_DIR, WACZ_FILE);
  if (!existsSync(join(root, path))) {
    if (expected) problems.push({ kind: 'missing-file', path, detail: 'the mirror was made with --wacz but holds no WACZ' });
    return undefined;
  }
  const { verifyWacz } = await import('./archive-verify.js');
  const check = await verifyWacz(join(root, path));
  for (const problem of check.problems) problems.push({ kind: 'archive', path: `${path}${problem.entry ? `:${problem.entry}` : ''}`, detail: problem.detail });
  return { path, filesChecked: check.filesChecked, indexLinesChecked: check.indexLinesChecked };
}

interface LocalLink {
  href: string;
  /** Mirror-relative path the link opens. */
  target: string;
}

/** The links of an HTML page or stylesheet that point into the mirror, resolved as a browser would from disk. */
function localLinks(path: string, bytes: Buffer, contentType: string): LocalLink[] {
  const base = MIRROR_BASE + path.split('/').map(encodeURIComponent).join('/');
  let urls: string[];
  if (contentType === 'text/html' || contentType === 'application/xhtml+xml' || path.endsWith('.html')) {
    urls = parseHtml(bytes.toString('utf8'), base).references.map((reference) => reference.url);
  } else if (contentType === 'text/css') {
    urls = parseStylesheet(bytes.toString('utf8'), base).references.map((reference) => reference.url);
  } else {
    return [];
  }
  return urls
    .filter((url) => url.startsWith(MIRROR_BASE))
    .map((url) => {
      const pathname = new URL(url).pathname;
      return { href: url.slice(MIRROR_BASE.length), target: safeDecode(pathname).slice(1) };
    });
}

function safeDecode(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}

/**
 * Whether a mirror-relative path names a file inside the mirror. Answers are remembered for the run: most links of a
 * mirror point at the same few shared files, and a 100,000-page mirror has 5.3 million links to 210,000 files.
 */
function isFileInside(root: string, relativePath: string, known: Map<string, boolean>): boolean {
  const target = resolve(root, relativePath);
  let answer = known.get(target);
  if (answer === undefined) {
    answer = target.startsWith(root + sep) && isFile(target);
    known.set(target, answer);
  }
  return answer;
}

/** As existsSync would answer and then some: no file for any error (ENOENT, or ENOTDIR when a folder in the path is a file). */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
