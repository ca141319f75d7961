import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@berth/testing';
import { removeTree } from './remove-tree.ts';

describe('removeTree', () => {
  it('removes a tree of files, directories, symlinks and FIFOs without following the links', async () => {
    using dir = tempDir();
    const outside = path.join(dir.path, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'keep'), 'kept');
    const root = path.join(dir.path, 'tree');
    mkdirSync(path.join(root, 'a/b/c'), { recursive: true });
    mkdirSync(path.join(root, 'empty'));
    writeFileSync(path.join(root, 'a/b/c/f'), 'x');
    writeFileSync(path.join(root, 'top'), 'y');
    symlinkSync(outside, path.join(root, 'a/link-to-dir'));
    symlinkSync(path.join(outside, 'keep'), path.join(root, 'link-to-file'));
    symlinkSync('/nonexistent', path.join(root, 'dangling'));
    execFileSync('mkfifo', [path.join(root, 'a/fifo')]);
    await removeTree(root);
    assert.equal(existsSync(root), false);
    assert.equal(readFileSync(path.join(outside, 'keep'), 'utf8'), 'kept');
  });

  it('takes a missing path as removed and removes a plain file', async () => {
    using dir = tempDir();
    await removeTree(path.join(dir.path, 'nothing'));
    const file = path.join(dir.path, 'file');
    writeFileSync(file, 'z');
    await removeTree(file);
    assert.equal(existsSync(file), false);
  });

  it('lets the event loop run while it removes a large tree', async () => {
    using dir = tempDir();
    const root = path.join(dir.path, 'big');
    for (let d = 0; d < 20; d++) {
      mkdirSync(path.join(root, String(d)), { recursive: true });
      for (let f = 0; f < 500; f++) writeFileSync(path.join(root, String(d), String(f)), '');
    }
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    await removeTree(root);
    running = false;
    assert.equal(existsSync(root), false);
    assert.ok(turns > 1, `the loop ran ${turns} times during the removal`);
  });
});
