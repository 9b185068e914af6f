// Folders made as `mkdir -p` makes them, without Node's recursive mkdir: that one retries for ever, at full CPU, under
// a parent that exists but cannot hold children (a path in /proc, a dangling symlink), where mkdir answers ENOENT
// again once the parent is there (nodejs/node, as of Node 20 and 22). Here a second ENOENT is the answer.
// Synchronous: a few mkdir calls, made only when a folder is missing (the store writes small files synchronously too).
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Creates the folder and any missing parents; throws the errno that stops it. */
export function makeDirs(path: string): void {
  const target = resolve(path);
  const first = tryMkdir(target);
  if (first === undefined) return;
  const parent = dirname(target);
  if (first.code !== 'ENOENT' || parent === target) throw first;
  makeDirs(parent);
  const second = tryMkdir(target);
  if (second !== undefined) throw second;
}

/** undefined when the folder is there now (made, or found as a folder); else the error. */
function tryMkdir(target: string): NodeJS.ErrnoException | undefined {
  try {
    mkdirSync(target);
    return undefined;
  } catch (error) {
    const errno = error as NodeJS.ErrnoException;
    if (errno.code === 'EEXIST' && statSync(target, { throwIfNoEntry: false })?.isDirectory()) return undefined;
    return errno;
  }
}
