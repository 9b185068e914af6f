// makeDirs makes folders as `mkdir -p` does, and give up where Node's recursive mkdir would spin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs } from '../src/dirs.ts';
import { tempDirSync } from './support/cli.ts';

const code = (error: unknown) => (error as NodeJS.ErrnoException).code;

describe('makeDirs', () => {
  it('makes every missing folder, and is content when they exist', () => {
    const root = tempDirSync('dirs-');
    makeDirs(join(root, 'a', 'b', 'c'));
    makeDirs(join(root, 'a', 'b', 'c'));
    makeDirs(root);
    assert.ok(statSync(join(root, 'a', 'b', 'c')).isDirectory());
  });

  it('throws at once under /proc, under a dangling symbolic link and under a file', () => {
    const root = tempDirSync('dirs-');
    symlinkSync(join(root, 'gone'), join(root, 'link'));
    writeFileSync(join(root, 'file'), 'x');
    assert.throws(() => makeDirs('/proc/sitemirror-test/a'), (error) => code(error) === 'ENOENT');
    assert.throws(() => makeDirs(join(root, 'link', 'a')), (error) => code(error) === 'EEXIST');
    assert.throws(() => makeDirs(join(root, 'file', 'a')), (error) => code(error) === 'ENOTDIR');
    assert.throws(() => makeDirs(join(root, 'file')), (error) => code(error) === 'EEXIST');
  });
});
