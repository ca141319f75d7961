// berth-shim: flags → Shim. See docs/shim.md.
import { closeSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from './logger.ts';
import { Shim } from './shim.ts';

const USAGE = 'usage: berth-shim --socket PATH --state DIR [--id ID] [--namespace NS] [--ready-fd N]';

const { values } = parseArgs({
  options: {
    'socket': { type: 'string' },
    'state': { type: 'string' },
    'id': { type: 'string', default: '' },
    'namespace': { type: 'string', default: '' },
    'ready-fd': { type: 'string' },
    'help': { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!values.socket || !values.state) {
  process.stderr.write(`berth-shim: --socket and --state are required\n${USAGE}\n`);
  process.exit(2);
}

const log = createLogger(values.id ? { id: values.id, namespace: values.namespace } : { spare: 'true' });
const shim = new Shim({ socket: values.socket, stateDir: values.state, id: values.id, namespace: values.namespace }, log);
try {
  await shim.start();
} catch (err) {
  log.fatal({ err }, 'cannot start');
  process.exit(1);
}
if (values['ready-fd']) {
  const fd = Number(values['ready-fd']);
  writeSync(fd, `${JSON.stringify({ pid: process.pid })}\n`);
  closeSync(fd);
}
log.info({ socket: values.socket }, 'listening');
