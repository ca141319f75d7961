// berth-runc spec [--bundle B] [--rootless]: writes runc's example config.json.
import { AlreadyExistsError } from '@berth/errdefs';
import { defaultSpec } from '@berth/runtime';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../context.ts';
import { bool, parseFlags, str } from '../flags.ts';

export const spec: Command = async (argv) => {
  const p = parseFlags(argv, [{ name: 'bundle', alias: 'b', type: 'string' }, { name: 'rootless', type: 'bool' }]);
  const file = path.join(str(p, 'bundle') ?? '.', 'config.json');
  if (existsSync(file)) throw new AlreadyExistsError('File config.json exists. Remove it first.');
  writeFileSync(file, `${JSON.stringify(defaultSpec({ rootless: bool(p, 'rootless') }), null, '\t')}\n`);
  return 0;
};
