// One writer per mirror: a lock file holding the owner's pid, taken atomically (O_EXCL), stale locks reclaimed.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SitemirrorError } from './errors.js';

export interface MirrorLock {
  release(): void;
}

/** Whether a process of this machine still runs. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of a state folder, or throws a LOCKED error naming the process that holds it. */
export function acquireLock(stateDir: string, purpose: string): MirrorLock {
  const file = join(stateDir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify({ pid: process.pid, purpose, since: new Date().toISOString() }), { flag: 'wx' });
      return { release: () => rmSync(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: { pid?: number; purpose?: string; since?: string } = {};
      try {
        holder = JSON.parse(readFileSync(file, 'utf8')) as typeof holder;
      } catch {
        // A lock file cut short by a crash holds no pid: treat it as stale.
      }
      if (holder.pid !== undefined && holder.pid !== process.pid && isAlive(holder.pid)) {
        throw new SitemirrorError('LOCKED', `another sitemirror ${holder.purpose ?? 'run'} (pid ${holder.pid}, since ${holder.since ?? '?'}) is using this mirror`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new SitemirrorError('LOCKED', `cannot take the lock ${file}`);
}
