// tools/images: builds the project's base images from Debian packages and pushes them to a registry.
//   node tools/images/main.ts --registry 127.0.0.1:5000 --out /var/lib/berth-images [names…]
// Each image is built once into an OCI layout under --out (reused by tests that read layouts) and pushed
// with skopeo as library/<name>:latest, unless the registry already has it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeLayout } from './oci-layout.ts';
import { recipes } from './rootfs.ts';

const { values, positionals } = parseArgs({
  options: {
    registry: { type: 'string', default: '127.0.0.1:5000' },
    out: { type: 'string', default: '/var/lib/berth-images' },
    force: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const registry = values.registry;
const out = values.out;
const wanted = positionals.length > 0 ? positionals : recipes.map((r) => r.name);
for (const name of wanted) {
  if (!recipes.some((r) => r.name === name)) throw new Error(`unknown image ${name}; known: ${recipes.map((r) => r.name).join(', ')}`);
}

async function inRegistry(name: string): Promise<boolean> {
  const res = await fetch(`http://${registry}/v2/library/${name}/manifests/latest`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  return res.ok;
}

for (const recipe of recipes.filter((r) => wanted.includes(r.name))) {
  if (!values.force && await inRegistry(recipe.name)) {
    console.log(`    ${recipe.name}: in the registry`);
    continue;
  }
  const layout = path.join(out, recipe.name);
  if (values.force || !existsSync(path.join(layout, 'index.json'))) {
    const started = Date.now();
    const work = path.join(out, `.build-${recipe.name}`);
    rmSync(work, { recursive: true, force: true });
    const rootfs = path.join(work, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    console.log(`    ${recipe.name}: building`);
    recipe.build(rootfs);
    await writeLayout(recipe, rootfs, path.join(work, 'layout'));
    rmSync(layout, { recursive: true, force: true });
    renameSync(path.join(work, 'layout'), layout);
    rmSync(work, { recursive: true, force: true });
    console.log(`    ${recipe.name}: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  execFileSync('skopeo', [
    'copy', '--quiet', '--dest-tls-verify=false', ...(recipe.format === 'v2s2' ? ['--format', 'v2s2'] : []),
    `oci:${layout}:latest`, `docker://${registry}/library/${recipe.name}:latest`,
  ], { stdio: 'inherit' });
  console.log(`    ${recipe.name}: pushed to ${registry}/library/${recipe.name}:latest`);
}
