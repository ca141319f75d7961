// The `berth` launcher: turns on Node's compile cache before the CLI's code is loaded (a warm start then
// skips compiling the bundle), runs the command, and exits with its status.
import module from 'node:module';
import type * as CliModule from './cli.ts';

try {
  module.enableCompileCache?.();
} catch {
  // the cache directory may be unwritable; run uncached
}
const entry = new URL(import.meta.url.endsWith('.ts') ? './cli.ts' : './cli.js', import.meta.url).href;
const cli = (await import(entry)) as typeof CliModule;
const code = await cli.main(process.argv.slice(2));
process.exit(code);
