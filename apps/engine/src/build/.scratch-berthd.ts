import { writeFileSync } from 'node:fs';
import { startBerthd } from '../test-support.ts';
const d = await startBerthd();
writeFileSync('/tmp/bx/berthd.env', `export DOCKER_HOST=${d.host}\nexport BERTH_LOG=${d.logFile}\nexport BERTH_PID=${d.process.pid}\n`);
console.log(d.host, d.logFile);
const stop = async () => { await d.stop(); process.exit(0); };
process.on('SIGTERM', stop); process.on('SIGINT', stop);
await new Promise(() => {});
