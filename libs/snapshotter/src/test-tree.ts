// Test helper (not exported): describing trees for comparisons.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { getXattr, listXattrs } from '@berth/layer-store';

export interface NodeDesc {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  sha?: string;
  link?: string;
  rdev?: number;
  xattrs?: Record<string, string>;
  mtime?: number;
}

/** Describes every object under `root` (relative path → type, mode, owner, content hash, link, device, xattrs). */
export interface DescribeOptions {
  mtimes?: boolean;
  xattrs?: boolean;
  skip?: (rel: string) => boolean;
}

export function describeTree(root: string, opts: DescribeOptions = {}): Map<string, NodeDesc> {
  const out = new Map<string, NodeDesc>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (opts.skip?.(r)) continue;
      const abs = path.join(root, r);
      const st = lstatSync(abs);
      const d: NodeDesc = { type: '?', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) d.type = 'dir';
      else if (st.isFile()) {
        d.type = 'file';
        d.size = st.size;
        d.sha = createHash('sha256').update(readFileSync(abs)).digest('hex');
      } else if (st.isSymbolicLink()) {
        d.type = 'symlink';
        d.link = readlinkSync(abs);
        d.mode = 0;
      } else if (st.isCharacterDevice()) {
        d.type = 'char';
        d.rdev = st.rdev;
      } else if (st.isBlockDevice()) {
        d.type = 'block';
        d.rdev = st.rdev;
      } else if (st.isFIFO()) d.type = 'fifo';
      if (opts.mtimes && !st.isDirectory()) d.mtime = Math.floor(st.mtimeMs / 1000);
      if (opts.xattrs && !st.isSymbolicLink()) {
        const x: Record<string, string> = {};
        for (const k of listXattrs(abs)) x[k] = getXattr(abs, k)?.toString('hex') ?? '';
        if (Object.keys(x).length) d.xattrs = x;
      }
      out.set(r, d);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** Lists differences between two tree descriptions, for readable assertion failures. */
export function treeDiff(a: Map<string, NodeDesc>, b: Map<string, NodeDesc>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) out.push(`only in first: ${k}`);
    else if (JSON.stringify(v) !== JSON.stringify(w)) out.push(`differs: ${k}: ${JSON.stringify(v)} vs ${JSON.stringify(w)}`);
  }
  for (const k of b.keys()) if (!a.has(k)) out.push(`only in second: ${k}`);
  return out;
}
