// The classic builder's context: the directory as a tar, minus what .dockerignore excludes (the Dockerfile
// and .dockerignore themselves always go), owned by root as docker sends it.
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, createReadStream } from 'node:fs';
import path from 'node:path';
import { PatternMatcher, parseDockerignore } from './dockerignore.ts';
import { TarWriter, encodeHeader, type TarEntry } from './tar.ts';

export interface BuildContext {
  tar: TarWriter;
  /** Bytes the tar will have (headers, padded contents, end blocks). */
  size: number;
}

export function contextFromDir(dir: string, dockerfile: string, extra?: { name: string; content: Buffer }): BuildContext {
  const ignoreFile = path.join(dir, '.dockerignore');
  const matcher = new PatternMatcher(existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8')) : []);
  const keep = new Set([dockerfile.replace(/^\.\//, ''), '.dockerignore']);
  const w = new TarWriter();
  let size = 1024;
  const add = (e: TarEntry, body?: () => AsyncIterable<Buffer>) => {
    w.entry(e, body);
    size += encodeHeader(e).length + (e.type === 'file' ? Math.ceil(e.size / 512) * 512 : 0);
  };
  const walk = (rel: string) => {
    const abs = rel === '' ? dir : path.join(dir, rel);
    for (const name of readdirSync(abs).sort()) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const childAbs = path.join(abs, name);
      const st = lstatSync(childAbs);
      const excluded = matcher.matches(childRel) && !keep.has(childRel);
      if (excluded && !(st.isDirectory() && matcher.hasExclusions)) continue;
      const base = { name: childRel, mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: st.mtime, size: 0 };
      if (st.isDirectory()) {
        if (!excluded) add({ ...base, type: 'directory' });
        walk(childRel);
      } else if (excluded) {
        continue;
      } else if (st.isSymbolicLink()) {
        add({ ...base, type: 'symlink', linkname: readlinkSync(childAbs) });
      } else if (st.isFile()) {
        add({ ...base, type: 'file', size: st.size }, () => createReadStream(childAbs) as AsyncIterable<Buffer>);
      }
    }
  };
  walk('');
  if (extra) {
    const entry: TarEntry = { name: extra.name, type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: new Date(), size: extra.content.length };
    add(entry, () => once(extra.content));
  }
  return { tar: w, size };
}

/** A context that is just a Dockerfile (`build - < Dockerfile`). */
export function contextFromDockerfile(content: Buffer): BuildContext {
  const w = new TarWriter();
  const e: TarEntry = { name: 'Dockerfile', type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: new Date(), size: content.length };
  w.entry(e, () => once(content));
  return { tar: w, size: 1024 + encodeHeader(e).length + Math.ceil(content.length / 512) * 512 };
}

async function* once(buf: Buffer): AsyncGenerator<Buffer> {
  yield buf;
}
