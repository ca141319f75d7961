// The `berth-runc` launcher: Node's compile cache first (a warm start then skips compiling the bundle), then
// the CLI. Kept tiny so that nothing is compiled before the cache is on.
import module from 'node:module';
import type * as Cli from './cli.ts';

try {
  module.enableCompileCache?.();
} catch {
  // an unwritable cache directory only costs speed
}
const entry = new URL(import.meta.url.endsWith('.ts') ? './cli.ts' : './cli.js', import.meta.url).href;
const cli = (await import(entry)) as typeof Cli;
process.exit(await cli.main(process.argv.slice(2)));
