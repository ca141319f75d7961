// A stand-in for berth-runtimed in the durability test: launches one shim per task of the plan given as JSON
// on argv, creates and starts the tasks, feeds them some stdin, prints what it started and then idles until
// the test kills it with SIGKILL.
import { launchShim, ShimClient, type CreateParams } from '@berth/shim-protocol';
import { closeSync, constants as fsc, openSync, writeSync } from 'node:fs';

interface PlanTask {
  id: string;
  socket: string;
  stateDir: string;
  create: CreateParams;
  /** Written to the stdin FIFO after start. */
  input?: string;
}

const plan = JSON.parse(process.argv[2]!) as { binary: string; tasks: PlanTask[] };
const started: { id: string; shimPid: number; pid: number }[] = [];
for (const t of plan.tasks) {
  const l = await launchShim({ binary: plan.binary, socket: t.socket, stateDir: t.stateDir, id: t.id, namespace: 'test' });
  const c = await ShimClient.connect(l.socket);
  const pid = await c.create(t.create);
  await c.start();
  if (t.input && t.create.stdin) {
    const fd = openSync(t.create.stdin, fsc.O_WRONLY);
    writeSync(fd, t.input);
    closeSync(fd);
  }
  started.push({ id: t.id, shimPid: l.pid, pid });
}
process.stdout.write(`${JSON.stringify(started)}\n`);
setInterval(() => {}, 60_000);
