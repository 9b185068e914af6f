// An update builds the next mirror beside the current one and publishes it at the end, so readers never see a mix.
//
// The next tree starts as hard links of the current files (same inodes: unchanged files keep their bytes and
// modification time at no cost); changed files replace their link through the store's atomic rename; publishing
// moves each host folder aside and the next one into place, two renames per host.
import { link, readdir, rename, rm, stat } from 'node:fs/promises';
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
    await rm(this.nextRoot, { recursive: true, force: true });
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
        await rm(join(this.oldRoot, host), { recursive: true, force: true });
        await rename(published, join(this.oldRoot, host));
      }
      await rename(staged, published);
    }
    await rm(this.oldRoot, { recursive: true, force: true });
    await rm(this.nextRoot, { recursive: true, force: true });
  }

  async discard(): Promise<void> {
    await rm(this.nextRoot, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function linkTree(from: string, to: string): Promise<void> {
  makeDirs(to);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await linkTree(source, target);
    else if (entry.isFile()) await link(source, target);
  }
}
