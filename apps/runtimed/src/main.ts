// berth-runtimed: parses flags, starts the daemon, stops it gracefully on SIGTERM/SIGINT (containers keep running).
import { startDaemon, createLogger } from './daemon.ts';
import { USAGE, parseConfig } from './config.ts';
import { VERSION } from './services/version.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`berth-runtimed: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (config.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (config.version) {
    process.stdout.write(`berth-runtimed ${VERSION}\n`);
    return;
  }
  const log = createLogger(config.logLevel);
  let daemon;
  try {
    daemon = await startDaemon(config, log);
  } catch (err) {
    log.fatal({ err }, `start berth-runtimed: ${(err as Error).message}`);
    log.flush();
    process.exitCode = 1;
    return;
  }
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'shutting down');
    void daemon.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

void main();
