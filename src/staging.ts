// An update builds the next mirror beside the current one and publishes it at the end, so readers never see a mix.
//
// The next tree starts as hard links of the current files (same inodes: unchanged files keep their bytes and
// modification time at no cost); changed files replace their link through the store's atomic rename; publishing
// moves each host folder aside and the next one into place, two renames per host.
import { linkSync, lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { readdir, rename, stat } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import { makeDirs } from './dirs.js';
import { STATE_DIR } from './store.js';

export class Staging {
  readonly nextRoot: string;
  private readonly oldRoot: string;

  constructor(private readonly root: string) {
    this.nextRoot = join(root, STATE_DIR, 'next');
    this.oldRoot = join(root, STATE_DIR, 'old');
  }

  /** The host folders of the published mirror. */
  async hosts(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    return entries.filter((entry) => entry.isDirectory() && entry.name !== STATE_DIR).map((entry) => entry.name);
  }

  /** Starts the next tree as hard links of the published one (a leftover from an abandoned update is dropped). */
  async prepare(): Promise<void> {
    await removeTree(this.nextRoot);
    makeDirs(this.nextRoot);
    for (const host of await this.hosts()) await linkTree(join(this.root, host), join(this.nextRoot, host));
  }

  /** Host folders the next tree will publish. */
  async stagedHosts(): Promise<string[]> {
    const entries = await readdir(this.nextRoot, { withFileTypes: true }).catch(() => []);
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  }

  /**
   * Moves the next tree into place. Safe to call again after a crash part-way: a host already moved is skipped.
   * The state records that a publish is due before this runs (in the same transaction as the new records).
   */
  async publish(hosts: string[]): Promise<void> {
    makeDirs(this.oldRoot);
    for (const host of hosts) {
      const staged = join(this.nextRoot, host);
      if (!(await exists(staged))) continue;
      const published = join(this.root, host);
      if (await exists(published)) {
        await removeTree(join(this.oldRoot, host));
        await rename(published, join(this.oldRoot, host));
      }
      await rename(staged, published);
    }
    await removeTree(this.oldRoot);
    await removeTree(this.nextRoot);
  }

  async discard(): Promise<void> {
    await removeTree(this.nextRoot);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * A mirror's tree is linked and removed with synchronous calls, a few hundred at a time between turns of the event
 * loop. Each promise-based call went through the thread pool (34 s to link a 210,000-file mirror, where `cp -al`
 * takes 8), and fs.rm's recursive removal starts every entry at once (425 MB to remove that tree).
 */
const CALLS_PER_TURN = 500;

class TurnTaker {
  private calls = 0;

  async counted(): Promise<void> {
    if (++this.calls % CALLS_PER_TURN === 0) await nextTurn();
  }
}

async function linkTree(from: string, to: string, turns = new TurnTaker()): Promise<void> {
  makeDirs(to);
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await linkTree(source, target, turns);
    else if (entry.isFile()) {
      linkSync(source, target);
      await turns.counted();
    }
  }
}

/** Removes a file or a folder tree, as `rm -rf` does (nothing there is not an error); symbolic links are not followed. */
async function removeTree(path: string): Promise<void> {
  const found = lstatSync(path, { throwIfNoEntry: false });
  if (found === undefined) return;
  if (found.isDirectory()) await removeFolder(path, new TurnTaker());
  else unlinkSync(path);
}

async function removeFolder(path: string, turns: TurnTaker): Promise<void> {
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      await removeFolder(child, turns);
    } else {
      unlinkSync(child);
      await turns.counted();
    }
  }
  rmdirSync(path);
}
