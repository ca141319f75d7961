// A stand-in for berth-runtimed in the durability test: launches one shim per task of the plan given as JSON
// on argv, creates and starts the tasks, feeds them some stdin, prints what it started and then idles until
// the test kills it with SIGKILL.
import { launchShim, ShimClient, SparePool, type CreateParams } from '@berth/shim-protocol';
import { closeSync, constants as fsc, openSync, writeSync } from 'node:fs';

interface PlanTask {
  id: string;
  socket: string;
  stateDir: string;
  create: CreateParams;
  /** Written to the stdin FIFO after start. */
  input?: string;
}

const plan = JSON.parse(process.argv[2]!) as { binary: string; tasks: PlanTask[]; pool?: { dir: string; tasksPerShim: number } };
const started: { id: string; shimPid: number; pid: number }[] = [];
// With a pool the tasks share shim processes (hosts); without, each gets a process of its own.
const pool = plan.pool && new SparePool({ binary: plan.binary, dir: plan.pool.dir, size: 1, tasksPerShim: plan.pool.tasksPerShim });
await pool?.start();
for (const t of plan.tasks) {
  const c = pool
    ? await pool.claim({ id: t.id, namespace: 'test', socket: t.socket, stateDir: t.stateDir })
    : await ShimClient.connect((await launchShim({ binary: plan.binary, socket: t.socket, stateDir: t.stateDir, id: t.id, namespace: 'test' })).socket);
  const pid = await c.create(t.create);
  await c.start();
  if (t.input && t.create.stdin) {
    const fd = openSync(t.create.stdin, fsc.O_WRONLY);
    writeSync(fd, t.input);
    closeSync(fd);
  }
  started.push({ id: t.id, shimPid: c.info.pid, pid });
}
process.stdout.write(`${JSON.stringify(started)}\n`);
setInterval(() => {}, 60_000);
