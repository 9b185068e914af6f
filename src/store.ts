// Files in the mirror: atomic writes (temporary file, then rename) and hashes. Knows paths and bytes, not URLs.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { SitemirrorError } from './errors.js';

export const STATE_DIR = '.sitemirror';

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class MirrorStore {
  readonly root: string;
  /** Where mirror files go: the root itself, or an update's staging tree (published at the end). */
  private filesRoot: string;
  private readonly tmpDir: string;
  private readonly rawDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.filesRoot = this.root;
    this.tmpDir = join(this.root, STATE_DIR, 'tmp');
    this.rawDir = join(this.root, STATE_DIR, 'raw');
  }

  /** Sends every later write and removal of mirror files to another tree on the same disk. */
  redirectFilesTo(filesRoot: string): void {
    this.filesRoot = resolve(filesRoot);
  }

  async open(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
    // Leftovers of a killed run are never under a final name; drop them.
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  /** The absolute file for a mirror-relative path; refuses any path that would leave the root. */
  absolutePath(relativePath: string): string {
    const target = resolve(this.filesRoot, relativePath);
    if (!target.startsWith(this.filesRoot + sep) || relativePath.startsWith(STATE_DIR)) {
      throw new SitemirrorError('WRITE', `refusing to write outside the mirror: ${relativePath}`);
    }
    return target;
  }

  /** Writes bytes under a mirror-relative path so that readers only ever see the old or the whole new file. Returns the sha256. */
  async write(relativePath: string, bytes: Buffer | string): Promise<string> {
    const target = this.absolutePath(relativePath);
    await this.writeAtomic(target, bytes);
    return sha256(bytes);
  }

  /** Writes a run report under .sitemirror/reports/. */
  async writeReport(name: string, text: string): Promise<string> {
    const target = join(this.root, STATE_DIR, 'reports', name);
    await this.writeAtomic(target, text);
    return target;
  }

  async read(relativePath: string): Promise<Buffer> {
    return readFile(this.absolutePath(relativePath));
  }

  async remove(relativePath: string): Promise<void> {
    await rm(this.absolutePath(relativePath), { force: true });
  }

  /** Keeps an origin body by its hash, so a page can be rewritten again later without fetching it twice. */
  async keepRaw(bytes: Buffer): Promise<string> {
    const hash = sha256(bytes);
    await this.writeAtomic(join(this.rawDir, hash.slice(0, 2), hash), bytes);
    return hash;
  }

  async readRaw(hash: string): Promise<Buffer> {
    return readFile(join(this.rawDir, hash.slice(0, 2), hash));
  }

  private async writeAtomic(target: string, bytes: Buffer | string): Promise<void> {
    const temporary = join(this.tmpDir, randomBytes(8).toString('hex'));
    try {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(temporary, bytes);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      const reason = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code;
      throw new SitemirrorError('WRITE', `cannot write ${target}: ${reason}`, { cause: error });
    }
  }
}
