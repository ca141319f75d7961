/**
 * Test helpers (not a spec) for comparing images built by berthd with the same Dockerfile built by a real
 * dockerd: what the image config says, and what each layer holds (`docker save`, every entry's path, type,
 * mode, owner, size, link target and content digest — times left out).
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TarParser, type TarHeader } from '@berth/layer-store';
import type { RunResult } from '@berth/testing';

export type Cli = (args: string[], opts?: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv }) => Promise<RunResult>;

export const CORPUS = path.join(import.meta.dirname, 'corpus');

/** Every entry of a tar, with its content. */
export function tarEntries(tar: Buffer): { header: TarHeader; data: Buffer }[] {
  const out: { header: TarHeader; data: Buffer }[] = [];
  let cur: { header: TarHeader; chunks: Buffer[] } | undefined;
  const p = new TarParser({
    entry: (h) => (cur = { header: h, chunks: [] }),
    data: (c) => cur?.chunks.push(Buffer.from(c)),
    entryEnd: () => {
      if (cur) out.push({ header: cur.header, data: Buffer.concat(cur.chunks) });
      cur = undefined;
    },
  });
  p.push(tar[0] === 0x1f && tar[1] === 0x8b ? gunzipSync(tar) : tar);
  return out;
}

/** One line per entry of a layer: `path type mode uid:gid size link sha256`, sorted. */
export function layerListing(layer: Buffer): string[] {
  return tarEntries(layer).map(({ header: h, data }) => {
    const name = h.name.replace(/^\.\//, '').replace(/\/$/, '');
    const sum = h.type === 'file' ? createHash('sha256').update(data).digest('hex').slice(0, 16) : '-';
    const size = h.type === 'file' ? h.size : 0;
    return `${name} ${h.type} ${(h.mode & 0o7777).toString(8)} ${h.uid}:${h.gid} ${size} ${h.linkname || '-'} ${sum}`;
  }).sort();
}

export interface SavedImage {
  config: {
    config?: Record<string, unknown>;
    rootfs?: { diff_ids?: string[] };
    history?: { created_by?: string; empty_layer?: boolean }[];
  };
  diffIds: string[];
  /** The listing of layer `i`. */
  layer(i: number): string[];
}

/** `docker save` of one image (through a file): its config, and its layers to list on demand. */
export async function saveImage(cli: Cli, image: string): Promise<SavedImage> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-save-'));
  try {
    const file = path.join(dir, 'image.tar');
    const r = await cli(['save', '-o', file, image], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`docker save ${image}: ${r.stderr}`);
    const files = new Map(tarEntries(readFileSync(file)).map((e) => [e.header.name.replace(/^\.\//, ''), e.data]));
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string; Layers: string[] }[];
    const m = manifest[0]!;
    const config = JSON.parse(files.get(m.Config)!.toString()) as SavedImage['config'];
    return { config, diffIds: config.rootfs?.diff_ids ?? [], layer: (i) => layerListing(files.get(m.Layers[i]!)!) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh copy of a corpus case in a temporary directory (the caller removes it). */
export function contextFor(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `berth-corpus-${name.replace(/\//g, '-')}-`));
  cpSync(path.join(CORPUS, name), dir, { recursive: true, preserveTimestamps: true });
  return dir;
}

export function listDir(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

/** The config fields the acceptance compares. */
export function configOf(c: SavedImage['config']): Record<string, unknown> {
  const cfg = (c.config ?? {}) as Record<string, unknown>;
  const pick = (k: string) => {
    const v = cfg[k];
    if (v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0)) return null;
    return v;
  };
  return {
    Env: pick('Env'), Cmd: pick('Cmd'), Entrypoint: pick('Entrypoint'), WorkingDir: pick('WorkingDir'), User: pick('User'),
    ExposedPorts: pick('ExposedPorts'), Labels: pick('Labels'), Volumes: pick('Volumes'), StopSignal: pick('StopSignal'),
    Healthcheck: pick('Healthcheck'), Shell: pick('Shell'), OnBuild: pick('OnBuild'),
  };
}
