// makeDirs and makeDirsAsync make folders as `mkdir -p` does, and give up where Node's recursive mkdir would spin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirs, makeDirsAsync } from '../src/dirs.ts';

const code = (error: unknown) => (error as NodeJS.ErrnoException).code;

for (const [name, make] of [['makeDirs', async (path: string) => makeDirs(path)], ['makeDirsAsync', makeDirsAsync]] as const) {
  describe(name, () => {
    it('makes every missing folder, and is content when they exist', async () => {
      const root = mkdtempSync(join(tmpdir(), 'dirs-'));
      await make(join(root, 'a', 'b', 'c'));
      await make(join(root, 'a', 'b', 'c'));
      await make(root);
      assert.ok(statSync(join(root, 'a', 'b', 'c')).isDirectory());
    });

    it('throws at once under /proc, under a dangling symbolic link and under a file', async () => {
      const root = mkdtempSync(join(tmpdir(), 'dirs-'));
      symlinkSync(join(root, 'gone'), join(root, 'link'));
      writeFileSync(join(root, 'file'), 'x');
      await assert.rejects(make('/proc/sitemirror-test/a'), (error) => code(error) === 'ENOENT');
      await assert.rejects(make(join(root, 'link', 'a')), (error) => code(error) === 'EEXIST');
      await assert.rejects(make(join(root, 'file', 'a')), (error) => code(error) === 'ENOTDIR');
      await assert.rejects(make(join(root, 'file')), (error) => code(error) === 'EEXIST');
    });
  });
}
