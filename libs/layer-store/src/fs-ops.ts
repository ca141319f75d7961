/**
 * The few filesystem operations Node has no API for: extended attributes (through @napi-rs/xattr, which uses
 * the l* calls, so symlinks are not followed) and device/fifo nodes (mknod(1): rare in layers, so a process
 * per node is acceptable; overlay whiteouts instead hard-link one template node, see `whiteoutTemplate`).
 */
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { getAttributeSync, listAttributesSync, removeAttributeSync, setAttributeSync } from '@napi-rs/xattr';

export function setXattr(p: string, name: string, value: Uint8Array | string): void {
  try {
    setAttributeSync(p, name, value);
  } catch (err) {
    throw new Error(`set xattr ${name} on ${p}: ${(err as Error).message}`, { cause: err });
  }
}

export function getXattr(p: string, name: string): Buffer | undefined {
  try {
    return getAttributeSync(p, name) ?? undefined;
  } catch {
    return undefined;
  }
}

export function listXattrs(p: string): string[] {
  try {
    return listAttributesSync(p);
  } catch {
    return [];
  }
}

export function removeXattr(p: string, name: string): void {
  try {
    removeAttributeSync(p, name);
  } catch {
    // absent already
  }
}

/** Creates a character or block device, or a fifo, at `p` (which must not exist). */
export function mknod(p: string, type: 'char' | 'block' | 'fifo', major = 0, minor = 0): void {
  const args = type === 'fifo' ? ['-m', '0600', p, 'p'] : ['-m', '0600', p, type === 'char' ? 'c' : 'b', String(major), String(minor)];
  try {
    execFileSync('mknod', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`mknod ${p}: ${stderr || (err as Error).message}`, { cause: err });
  }
}

/** Linux `dev_t` → (major, minor), as glibc's gnu_dev_major/minor. */
export function devMajor(rdev: number): number {
  const r = BigInt(rdev);
  return Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
}

export function devMinor(rdev: number): number {
  const r = BigInt(rdev);
  return Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
}

/** True for an overlayfs whiteout: a character device 0/0. */
export function isWhiteoutStat(st: { isCharacterDevice(): boolean; rdev: number }): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/**
 * A character device 0/0 inside `dir` that whiteouts are hard-linked to (the kernel shares whiteout inodes
 * the same way), so creating a whiteout costs one link(2) instead of a process. `dir` must be on the same
 * filesystem as the trees that get whiteouts.
 */
export function whiteoutTemplate(dir: string): string {
  const p = path.join(dir, 'whiteout');
  try {
    if (isWhiteoutStat(lstatSync(p))) return p;
    unlinkSync(p);
  } catch {
    // absent
  }
  mkdirSync(dir, { recursive: true });
  mknod(p, 'char', 0, 0);
  return p;
}

/** Creates an overlay whiteout at `p` (which must not exist). */
export function makeWhiteout(p: string, template: string | undefined): void {
  if (template) {
    try {
      linkSync(template, p);
      return;
    } catch (err) {
      // EXDEV (other filesystem) or EMLINK (too many links): fall back to a node of its own.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EMLINK' && code !== 'ENOENT') throw err;
    }
  }
  mknod(p, 'char', 0, 0);
}
