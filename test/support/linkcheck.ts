// An independent link check over a mirror folder: it shares no code with sitemirror's extractor on purpose.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { load } from 'cheerio';

export interface BrokenLink {
  file: string;
  href: string;
}

/** Every file under root (relative paths), skipping the state folder. */
export function listFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === '.sitemirror') continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.push(relative(root, full).split('\\').join('/'));
    }
  };
  walk(root);
  return files.sort();
}

function cssUrls(css: string): string[] {
  const urls: string[] = [];
  for (const match of css.matchAll(/url\(\s*(['"]?)([^'")]*)\1\s*\)|@import\s+(['"])([^'"]*)\3/g)) urls.push(match[2] ?? match[4] ?? '');
  return urls;
}

/** Local references (not http:, data:, #, mailto:) found in HTML attributes and CSS. */
export function localReferences(file: string, text: string): string[] {
  const refs: string[] = [];
  if (file.endsWith('.css')) refs.push(...cssUrls(text));
  else htmlReferences(text, refs);
  return refs.filter((ref) => ref !== '' && !/^([a-z][a-z0-9+.-]*:|#|\/\/)/i.test(ref.replace(/^\.\//, 'x/')));
}

function htmlReferences(text: string, refs: string[]): void {
  const $ = load(text);
  $('[href], [src], [srcset], [poster], [data], [style], [action]').each((_, element) => {
    const el = $(element);
    for (const name of ['href', 'src', 'poster', 'data', 'action']) {
      const value = el.attr(name);
      if (value !== undefined && !(name === 'href' && el.is('link[rel=canonical]'))) refs.push(value);
    }
    const srcset = el.attr('srcset');
    if (srcset) for (const candidate of srcset.split(/,\s+/)) refs.push(candidate.trim().split(/\s+/)[0] ?? '');
    const style = el.attr('style');
    if (style) refs.push(...cssUrls(style));
  });
  $('style').each((_, element) => void refs.push(...cssUrls($(element).text())));
  $('meta[http-equiv]').each((_, element) => {
    const match = /url\s*=\s*(.+)$/i.exec($(element).attr('content') ?? '');
    if (match) refs.push(match[1]!.trim().replace(/^['"]|['"]$/g, ''));
  });
}

/** Checks that every local reference in every HTML and CSS file opens an existing file, as a browser would resolve it from disk. */
export function brokenLinks(root: string): BrokenLink[] {
  const broken: BrokenLink[] = [];
  for (const file of listFiles(root)) {
    if (!/\.(html?|css)$/i.test(file)) continue;
    const text = readFileSync(join(root, file), 'utf8');
    for (const href of localReferences(file, text)) {
      const url = new URL(href, `file://${resolve(root, file)}`);
      const target = decodeURIComponent(url.pathname);
      if (!existsSync(target) || statSync(target).isDirectory()) broken.push({ file, href });
      else if (!resolve(target).startsWith(resolve(root))) broken.push({ file, href });
    }
  }
  return broken;
}

export function readMirror(root: string, path: string): string {
  return readFileSync(join(root, path), 'utf8');
}

