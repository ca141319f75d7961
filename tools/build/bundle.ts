// Bundles an app's src/main.ts into dist/main.js with esbuild: the workspace's own libraries are inlined (one
// file loads faster than many), npm dependencies stay external unless the app's package.json says
// "berth": { "bundleDependencies": true }, and @berth/native always stays external (it loads a .node file).
// The shebang names the Node binary that built it, so the launcher works wherever PATH points.
import { build, type Plugin } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';

const appDir = process.cwd();
const pkg = JSON.parse(readFileSync(path.join(appDir, 'package.json'), 'utf8')) as {
  berth?: { bundleDependencies?: boolean; entries?: Record<string, string>; directBuiltins?: boolean; splitting?: boolean; nodeFlags?: string[] };
};
const bundleDeps = pkg.berth?.bundleDependencies === true;
// "splitting": true puts what dynamic import()s reach into chunks of their own (dist/chunks/), so a program
// compiles only the commands it runs. Chunk names carry content hashes; old ones are left in place (a
// program started from the previous build may still load them).
const splitting = pkg.berth?.splitting === true;
const entries = pkg.berth?.entries ?? { main: 'src/main.ts' };
// "nodeFlags": V8/Node flags a daemon always runs with (e.g. runtimed's small young generation); the shebang
// then goes through `env -S`, which splits them into arguments.
const nodeFlags = pkg.berth?.nodeFlags ?? [];
const shebang = nodeFlags.length > 0 ? `#!/usr/bin/env -S ${process.execPath} ${nodeFlags.join(' ')}` : `#!${process.execPath}`;

const externals: Plugin = {
  name: 'berth-externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { external: true };
      if (args.path === '@berth/native' || args.path.endsWith('.node')) return { external: true };
      if (args.path.startsWith('@berth/')) return undefined;
      return bundleDeps ? undefined : { external: true };
    });
  },
};

// "directBuiltins": true (the programs started per command or per container: berth, berth-runc, berth-shim): a
// `node:` import becomes a read of process.getBuiltinModule()'s CommonJS object, one pure call per imported name
// (unused names are tree-shaken). An ESM import of a builtin builds its facade eagerly (node:fs's loads its
// stream classes and fs/promises, node:http's undici); reading names off the CommonJS object does not. Heavy
// builtins an app needs rarely, it loads itself where it needs them. (Proxies that load a builtin on first use
// were tried and dropped: esbuild's namespace copies of them cost ~10 ms per process start.)
const directBuiltins: Plugin = {
  name: 'berth-direct-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'berth-direct-builtin', sideEffects: false }));
    b.onLoad({ filter: /.*/, namespace: 'berth-direct-builtin' }, (args) => {
      const names = Object.keys(process.getBuiltinModule(args.path) as object).filter((n) => n !== 'default');
      const exports = names.map((n, i) => `const v${i} = /* @__PURE__ */ get(${JSON.stringify(n)});\nexport { v${i} as ${JSON.stringify(n)} };`);
      return {
        loader: 'js',
        contents: `const m = process.getBuiltinModule(${JSON.stringify(args.path)});\nconst get = (k) => m[k];\nexport default m;\n${exports.join('\n')}\n`,
      };
    });
  },
};

const result = await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([out, src]) => [out, path.join(appDir, src)])),
  outdir: path.join(appDir, 'dist'),
  bundle: true,
  splitting,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  metafile: false,
  logLevel: 'warning',
  plugins: pkg.berth?.directBuiltins ? [directBuiltins, externals] : [externals],
  banner: {
    js: `${shebang}\nimport { createRequire as __berthCreateRequire } from 'node:module';\n`
      + 'const require = __berthCreateRequire(import.meta.url);',
  },
});
if (result.errors.length > 0) process.exit(1);
for (const out of Object.keys(entries)) chmodSync(path.join(appDir, 'dist', `${out}.js`), 0o755);
