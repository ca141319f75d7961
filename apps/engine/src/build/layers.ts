/**
 * Reading a snapshot's stack of directories without mounting it: whether a path exists as the container will
 * see it (whiteouts and opaque directories honoured), and removing the mount-point stubs a RUN container's
 * runtime had to create (`/etc/hosts` in an image without one, `/proc` in a bare tree, RUN --mount targets),
 * so a layer holds only what the command did — as dockerd's init layer keeps them out of its layers.
 */
import { lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { getXattr } from '@berth/layer-store';

function isWhiteout(p: string): boolean {
  try {
    const st = lstatSync(p);
    return st.isCharacterDevice() && st.rdev === 0;
  } catch {
    return false;
  }
}

function isOpaque(dir: string): boolean {
  return getXattr(dir, 'trusted.overlay.opaque')?.toString() === 'y';
}

/** Whether `rel` (`etc/hosts`) exists in the union of `dirs` (top first); symlinks are not followed. */
export function existsInLayers(dirs: string[], rel: string): boolean {
  const parts = rel.split('/').filter(Boolean);
  for (const dir of dirs) {
    let cur = dir;
    let hidden = false;
    let opaqueBelow = false;
    for (let i = 0; i < parts.length; i++) {
      cur = path.join(cur, parts[i]!);
      if (isWhiteout(cur)) {
        hidden = true;
        break;
      }
      let st;
      try {
        st = lstatSync(cur);
      } catch {
        break;
      }
      if (i === parts.length - 1) return true;
      if (!st.isDirectory()) {
        hidden = true;
        break;
      }
      if (isOpaque(cur)) opaqueBelow = true;
    }
    if (hidden || opaqueBelow) return false;
  }
  return false;
}

/** The mount points a container will need, split into those missing now and the existing directories above them. */
export interface StubPlan {
  /** Paths the runtime will have to create (deepest first). */
  missing: string[];
  /** Existing directories that creating them touches (overlay copies them up), deepest first, with their owner and mode. */
  parents: { rel: string; mode: number; uid: number; gid: number }[];
}

function lowerStat(dirs: string[], rel: string): { mode: number; uid: number; gid: number } | undefined {
  for (const d of dirs) {
    try {
      const st = lstatSync(path.join(d, rel));
      return { mode: st.mode, uid: st.uid, gid: st.gid };
    } catch {
      // not in this layer
    }
  }
  return undefined;
}

const depth = (p: string) => p.split('/').length;

export function planStubs(dirs: string[], targets: string[]): StubPlan {
  const missing = new Set<string>();
  const parents = new Map<string, { rel: string; mode: number; uid: number; gid: number }>();
  for (const t of targets) {
    const parts = t.split('/').filter(Boolean);
    const existing: string[] = [];
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (!missing.has(rel) && existsInLayers(dirs, rel)) {
        existing.push(rel);
        continue;
      }
      // Creating this path copies up every existing directory above it.
      for (const e of existing) {
        if (parents.has(e)) continue;
        const st = lowerStat(dirs, e);
        if (st) parents.set(e, { rel: e, ...st });
      }
      for (let j = i; j <= parts.length; j++) missing.add(parts.slice(0, j).join('/'));
      break;
    }
  }
  const order = (a: string, b: string) => depth(b) - depth(a) || (a < b ? 1 : -1);
  return { missing: [...missing].sort(order), parents: [...parents.values()].sort((a, b) => order(a.rel, b.rel)) };
}

/**
 * Removes from `upper` the empty files and directories left by mount points, then the directories above them
 * that overlay copied up only because of them (empty, same owner and mode as below).
 */
export function removeStubs(upper: string, plan: StubPlan): void {
  for (const rel of plan.missing) {
    const p = path.join(upper, rel);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    try {
      if (st.isDirectory()) {
        if (readdirSync(p).length === 0) rmdirSync(p);
      } else if (st.isFile() && st.size === 0) {
        unlinkSync(p);
      }
    } catch {
      // Left as it is: the command may have put something there.
    }
  }
  for (const parent of plan.parents) {
    const p = path.join(upper, parent.rel);
    try {
      const st = lstatSync(p);
      if (!st.isDirectory() || readdirSync(p).length > 0 || isOpaque(p)) continue;
      if (st.mode !== parent.mode || st.uid !== parent.uid || st.gid !== parent.gid) continue;
      rmdirSync(p);
    } catch {
      // not copied up
    }
  }
}
