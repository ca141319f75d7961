// berth-shim: flags → ShimHost. See docs/shim.md.
import { closeSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ShimHost } from './host.ts';
import { createLogger } from './logger.ts';

const USAGE = 'usage: berth-shim --socket PATH --state DIR [--id ID [--namespace NS]] [--capacity N] [--ready-fd N]';

const { values } = parseArgs({
  options: {
    'socket': { type: 'string' },
    'state': { type: 'string' },
    'id': { type: 'string', default: '' },
    'namespace': { type: 'string', default: '' },
    'capacity': { type: 'string', default: '1' },
    'ready-fd': { type: 'string' },
    'help': { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const capacity = Number(values.capacity);
if (!values.socket || !values.state || !Number.isInteger(capacity) || capacity < 1) {
  process.stderr.write(`berth-shim: --socket and --state are required; --capacity must be a positive integer\n${USAGE}\n`);
  process.exit(2);
}

const log = createLogger(values.id ? {} : { host: values.state });
// A failure in one request or one task's stream must not take down the stdio of every container this process
// holds: it is logged and the process goes on.
process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
const host = new ShimHost({
  socket: values.socket, stateDir: values.state, capacity: values.id ? 1 : capacity,
  ...(values.id ? { task: { id: values.id, namespace: values.namespace } } : {}),
}, log);
try {
  await host.start();
} catch (err) {
  log.fatal({ err }, 'cannot start');
  process.exit(1);
}
if (values['ready-fd']) {
  const fd = Number(values['ready-fd']);
  writeSync(fd, `${JSON.stringify({ pid: process.pid })}\n`);
  closeSync(fd);
}
log.info({ socket: values.socket, capacity }, 'listening');
