import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Where tools/setup/services.sh keeps the OCI layouts of the base images it built. */
export const IMAGES_ROOT = process.env.BERTH_IMAGES_ROOT ?? '/var/lib/berth-images';

export type BaseImage = 'busybox' | 'hello-world' | 'debian';

/** The OCI image layout directory of a base image; throws with the fix if the setup has not built it. */
export function imageLayout(name: BaseImage): string {
  const dir = path.join(IMAGES_ROOT, name);
  if (!existsSync(path.join(dir, 'index.json'))) {
    throw new Error(`no OCI layout for ${name} in ${IMAGES_ROOT}; run: bash tools/setup/services.sh`);
  }
  return dir;
}

interface Descriptor { digest: string; mediaType: string }

/** The layer blob paths of a base image, bottom first. */
export function imageLayers(name: BaseImage): string[] {
  const dir = imageLayout(name);
  const blob = (d: string) => path.join(dir, 'blobs', ...d.split(':'));
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as { layers: Descriptor[] };
  return manifest.layers.map((l) => blob(l.digest));
}

/**
 * Unpacks a base image into `dir` with GNU tar (a plain rootfs for runtime tests that need no snapshotter),
 * and returns `dir`. The layers are single and whiteout-free, so tar's view equals the image's.
 */
export function unpackRootfs(name: BaseImage, dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const layer of imageLayers(name)) {
    execFileSync('tar', ['--numeric-owner', '-xzf', layer, '-C', dir]);
  }
  return dir;
}
