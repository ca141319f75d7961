// berthd: parses flags and daemon.json, starts the daemon, stops it gracefully on SIGTERM/SIGINT (containers
// keep running).
import { parseCommandLine, USAGE } from './config.ts';
import { ENGINE_VERSION } from './engine.ts';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`berthd: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (parsed.version) {
    process.stdout.write(`berthd version ${ENGINE_VERSION}\n`);
    return;
  }
  if (parsed.validate) {
    process.stdout.write('configuration OK\n');
    return;
  }
  // The daemon's modules load only once the command line is known to be good (errors come back at once).
  const { createLogger, startDaemon } = await import('./daemon.ts');
  const log = createLogger(parsed.config.logLevel);
  let daemon;
  try {
    daemon = await startDaemon(parsed.config, log);
  } catch (err) {
    log.fatal({ err }, `start berthd: ${(err as Error).message}`);
    (log as unknown as { flush?: () => void }).flush?.();
    setTimeout(() => process.exit(1), 50);
    return;
  }
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'signal received');
    void daemon.stop().then(() => {
      (log as unknown as { flush?: () => void }).flush?.();
      process.exit(0);
    });
  };
  // A stray rejection must not take the daemon (and every client's stream) down: log it loudly instead.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  process.on('SIGPIPE', () => undefined);
}

void main();
