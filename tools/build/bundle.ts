// Bundles an app's src/main.ts into dist/main.js with esbuild: the workspace's own libraries are inlined (one
// file loads faster than many), npm dependencies stay external unless the app's package.json says
// "berth": { "bundleDependencies": true }, and @berth/native always stays external (it loads a .node file).
// The shebang names the Node binary that built it, so the launcher works wherever PATH points.
import { build, type Plugin } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';

const appDir = process.cwd();
const pkg = JSON.parse(readFileSync(path.join(appDir, 'package.json'), 'utf8')) as {
  berth?: { bundleDependencies?: boolean; entries?: Record<string, string>; lazyBuiltins?: boolean; directBuiltins?: boolean; splitting?: boolean; nodeFlags?: string[] };
};
const bundleDeps = pkg.berth?.bundleDependencies === true;
const lazyBuiltins = pkg.berth?.lazyBuiltins === true;
// "splitting": true puts what dynamic import()s reach into chunks of their own (dist/chunks/), so a CLI
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

// "berth": { "lazyBuiltins": true } (the CLI, where start-up time is measured): a Node builtin is loaded with
// process.getBuiltinModule() when one of its properties is first read, not when the bundle starts. An ESM
// import of a builtin builds its facade eagerly — `node:http`'s pulls in undici (~40 ms here), `node:crypto`
// costs ~11 ms, `node:fs`'s loads its stream classes — and most commands never touch most of them. The stub
// is a proxy that knows the builtin's export names (taken at build time) but loads the module only on use.
const builtinsOnDemand: Plugin = {
  name: 'berth-lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'berth-builtin', sideEffects: false }));
    b.onLoad({ filter: /.*/, namespace: 'berth-builtin' }, (args) => {
      const names = Object.keys(process.getBuiltinModule(args.path) as object);
      return {
        loader: 'js',
        contents: `const names = ${JSON.stringify(names)};
let real;
const load = () => (real ??= process.getBuiltinModule(${JSON.stringify(args.path)}));
module.exports = new Proxy({}, {
  get: (_t, k) => (k === '__esModule' ? undefined : load()[k]),
  has: (_t, k) => k in load(),
  ownKeys: () => names,
  getOwnPropertyDescriptor: (_t, k) => (names.includes(k) ? { configurable: true, enumerable: true, writable: true, value: undefined } : undefined),
});`,
      };
    });
  },
};

// "directBuiltins": true (berth-runc, started once per container operation): a `node:` import becomes a read of
// process.getBuiltinModule()'s CommonJS object, one pure call per imported name (unused names are tree-shaken).
// An ESM import of a builtin builds its facade eagerly (node:fs's loads its stream classes and fs/promises);
// reading names off the CommonJS object does not. Heavy builtins the app needs rarely, it loads itself.
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
  plugins: lazyBuiltins ? [builtinsOnDemand, externals] : pkg.berth?.directBuiltins ? [directBuiltins, externals] : [externals],
  banner: {
    js: `${shebang}\nimport { createRequire as __berthCreateRequire } from 'node:module';\n`
      + 'const require = __berthCreateRequire(import.meta.url);',
  },
});
if (result.errors.length > 0) process.exit(1);
for (const out of Object.keys(entries)) chmodSync(path.join(appDir, 'dist', `${out}.js`), 0o755);
