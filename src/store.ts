// Files in the mirror: atomic writes (temporary file, then rename; a raw body straight under its hash) and hashes.
// Knows paths and bytes, not URLs.
import { hash, randomBytes } from 'node:crypto';
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readlinkSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { makeDirs } from './dirs.js';
import { SitemirrorError } from './errors.js';

export const STATE_DIR = '.sitemirror';
/** Inside the state folder: the WARC files of every run (--warc) and their WACZ package (--wacz). */
export const WARC_DIR = 'warc';
export const WACZ_FILE = 'archive.wacz';
/**
 * Files up to this size are written synchronously: a 40 KB write to the page cache blocks the event loop for about
 * 0.1 ms, less than the promise round trips through the thread pool cost in CPU. Larger files stay asynchronous.
 */
const SYNC_WRITE_BYTES = 1024 ** 2;

export function sha256(bytes: Buffer | string): string {
  // The one-shot form: no Hash object per body (a tenth less time for a page-sized body).
  return hash('sha256', bytes, 'hex');
}

/**
 * Runs a step that puts a file at target, making target's folder first if the step found it missing. Most folders
 * exist already: a recursive mkdir per file costs a stat per path segment, so only on ENOENT.
 */
function inItsFolder(target: string, put: () => void): void {
  try {
    put();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    makeDirs(dirname(target));
    put();
  }
}

/** A new file with these bytes, or none: one cut short (a full disk) is removed. */
function createFile(target: string, bytes: Buffer): void {
  const fd = openSync(target, 'wx');
  try {
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
  } catch (error) {
    closeSync(fd);
    rmSync(target, { force: true });
    throw error;
  }
  closeSync(fd);
}

/** Creates the mirror's folder and its state folder, or says in one line why it cannot. */
export function createMirrorFolder(root: string): void {
  try {
    makeDirs(join(root, STATE_DIR));
  } catch (error) {
    throw new SitemirrorError('WRITE', `cannot create the mirror folder ${root}: ${folderFailure(resolve(root), error)}`, { cause: error });
  }
}

/**
 * Why a folder could not be made, told by the last part of its path that exists: a dangling symbolic link, a folder
 * that holds no new folders (/proc answers ENOENT), or the errno a probe folder made there meets (a recursive mkdir
 * may report ENOENT for a read-only parent).
 */
function folderFailure(folder: string, error: unknown): string {
  let existing = folder;
  const entry = (path: string) => {
    try {
      return lstatSync(path);
    } catch {
      return undefined; // missing, or under a file (ENOTDIR)
    }
  };
  while (entry(existing) === undefined && dirname(existing) !== existing) existing = dirname(existing);
  if (entry(existing)?.isSymbolicLink() && !existsSync(existing)) {
    return `${existing} is a symbolic link to ${readlinkSync(existing)}, which does not exist`;
  }
  let cause = error;
  try {
    const probe = join(existing, `.sitemirror-probe-${randomBytes(4).toString('hex')}`);
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (probeError) {
    cause = probeError;
  }
  if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return `${existing} cannot hold new folders (ENOENT)`;
  return diskReason(cause);
}

/** A file of the mirror could not be written: the run's one-line error. */
export function writeFailure(target: string, error: unknown): SitemirrorError {
  return new SitemirrorError('WRITE', `cannot write ${target}: ${diskReason(error)}`, { cause: error });
}

/** An errno in the user's words, with the code for searching: `the disk is full (ENOSPC)`. */
function diskReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
  const reasons: Record<string, string> = {
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is used up',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOTDIR: 'a file is in the way',
    EEXIST: 'a file is in the way',
  };
  return reasons[code] === undefined ? code : `${reasons[code]} (${code})`;
}

export class MirrorStore {
  readonly root: string;
  /** Where mirror files go: the root itself, or an update's staging tree (published at the end). */
  private filesRoot: string;
  private tmpDir: string;
  private readonly rawDir: string;
  /** Temporary names: one random prefix per store and a counter (random bytes per file cost a syscall each). */
  private readonly tempPrefix = randomBytes(6).toString('hex');
  private tempCount = 0;

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

  /** `shared`: other workers write into this mirror too, so this one keeps its temporary files in a folder of its own. */
  async open(shared = false): Promise<void> {
    if (shared) this.tmpDir = join(this.tmpDir, `${hostname()}-${process.pid}`);
    makeDirs(this.tmpDir);
    // Leftovers of a killed run are never under a final name; drop them.
    await rm(this.tmpDir, { recursive: true, force: true });
    makeDirs(this.tmpDir);
  }

  /** The state folder readable by its owner only: it holds the crawl's credentials (see the crawler's carriesCredentials). */
  async keepStatePrivate(): Promise<void> {
    await chmod(join(this.root, STATE_DIR), 0o700);
  }

  /** The absolute file for a mirror-relative path; refuses any path that would leave the root. */
  absolutePath(relativePath: string): string {
    const target = resolve(this.filesRoot, relativePath);
    if (!target.startsWith(this.filesRoot + sep) || relativePath.startsWith(STATE_DIR)) {
      throw new SitemirrorError('WRITE', `refusing to write outside the mirror: ${relativePath}`);
    }
    return target;
  }

  /**
   * Writes bytes under a mirror-relative path so that readers only ever see the old or the whole new file. Returns
   * the sha256: `knownHash` when the caller has hashed these very bytes already (a body written as it came).
   */
  async write(relativePath: string, bytes: Buffer | string, knownHash?: string): Promise<string> {
    const target = this.absolutePath(relativePath);
    await this.writeAtomic(target, bytes);
    return knownHash ?? sha256(bytes);
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
  async keepRaw(bytes: Buffer, bodyHash = sha256(bytes)): Promise<string> {
    const target = join(this.rawDir, bodyHash.slice(0, 2), bodyHash);
    if (bytes.length > SYNC_WRITE_BYTES || !this.writeNew(target, bytes)) await this.writeAtomic(target, bytes);
    return bodyHash;
  }

  async readRaw(hash: string): Promise<Buffer> {
    return readFile(join(this.rawDir, hash.slice(0, 2), hash));
  }

  /** A fresh name in the store's temporary folder, on the mirror's disk: for a body read straight to a file (spool.ts). */
  temporaryPath(): string {
    return join(this.tmpDir, `${this.tempPrefix}-${(++this.tempCount).toString(36)}`);
  }

  /** Moves a whole file made under temporaryPath() to a mirror-relative path; readers see the old or the new file. */
  async adopt(relativePath: string, temporary: string): Promise<void> {
    const target = this.absolutePath(relativePath);
    try {
      await this.placeFile(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw writeFailure(target, error);
    }
  }

  private async writeAtomic(target: string, bytes: Buffer | string): Promise<void> {
    const temporary = this.temporaryPath();
    try {
      if (bytes.length <= SYNC_WRITE_BYTES) {
        this.writeSmall(temporary, target, bytes);
        return;
      }
      await writeFile(temporary, bytes);
      await this.placeFile(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw writeFailure(target, error);
    }
  }

  private async placeFile(temporary: string, target: string): Promise<void> {
    // As inItsFolder, for a rename through the thread pool (files over SYNC_WRITE_BYTES).
    await rename(temporary, target).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      makeDirs(dirname(target));
      await rename(temporary, target);
    });
  }

  /**
   * Writes a file under its content's hash straight to its name, without a temporary file and a rename: a body is
   * kept under one name only, nothing reads it before the state names it, and a name already taken holds the same
   * bytes. True when the file is there now; false when a file of another size holds the name (a write cut short by a
   * crash), which the caller then replaces whole.
   */
  private writeNew(target: string, bytes: Buffer): boolean {
    try {
      inItsFolder(target, () => createFile(target, bytes));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return statSync(target).size === bytes.length;
      throw writeFailure(target, error);
    }
  }

  /** The same steps without the thread pool: a third of the CPU for the pages and images most sites are made of. */
  private writeSmall(temporary: string, target: string, bytes: Buffer | string): void {
    writeFileSync(temporary, bytes);
    inItsFolder(target, () => renameSync(temporary, target));
  }
}
