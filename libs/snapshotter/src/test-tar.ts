// Test helper (not exported): a minimal tar builder over @berth/layer-store's header encoder.
import { encodeHeader, END_OF_ARCHIVE, paddingFor } from '@berth/layer-store';

export function tarOf(entries: { name: string; data?: string; mode?: number }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const dir = e.name.endsWith('/');
    const data = Buffer.from(e.data ?? '');
    parts.push(encodeHeader({
      name: e.name, type: dir ? 'dir' : 'file', mode: e.mode ?? (dir ? 0o755 : 0o644), uid: 0, gid: 0, size: dir ? 0 : data.length,
      mtime: 1_700_000_000, linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0, xattrs: {},
    }));
    if (!dir && data.length) parts.push(data, paddingFor(data.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}
