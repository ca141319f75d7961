// The acceptance scenario: a daemon starts containers through shims and is killed with SIGKILL; while it is
// gone containers keep running and logging, some exit; a new client reconnects and finds everything intact.
import { mkfifo } from '@berth/runtime';
import { jsonFileUri, readRecordedExit, ShimClient } from '@berth/shim-protocol';
import { waitFor } from '@berth/testing';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Fixture, isAlive, logText, SHIM_BIN } from './test-helpers.ts';

let fx: Fixture;
before(() => {
  fx = new Fixture();
});
after(async () => {
  await fx.cleanup();
});

function writeFifo(file: string, text: string): void {
  const fd = openSync(file, fsc.O_WRONLY);
  writeSync(fd, text);
  closeSync(fd);
}

for (const shared of [false, true]) {
  const mode = shared ? 'tasks sharing shim processes' : 'a shim process per task';
  test(`containers outlive a daemon killed with SIGKILL; a reconnecting client finds them intact (${mode})`, async () => {
    const k = (name: string) => `${name}${shared ? '-s' : ''}`;
    const log = (name: string) => path.join(fx.root, `${k(name)}.log`);
    const stdin = (name: string) => path.join(fx.root, `${k(name)}.stdin`);
    const task = (name: string, args: string[], opts: { stdin?: boolean; terminal?: boolean } = {}) => {
      const uri = jsonFileUri(log(name), { 'max-size': '64k', 'max-file': '50' });
      if (opts.stdin) mkfifo(stdin(name), 0o600);
      return {
        id: k(name), socket: fx.socket(k(name)), stateDir: fx.stateDir(k(name)),
        create: {
          bundle: fx.bundle(k(name), args, { terminal: opts.terminal ?? false }), stdout: uri, stderr: uri, runtimeRoot: fx.runtimeRoot,
          terminal: opts.terminal ?? false, ...(opts.stdin ? { stdin: stdin(name) } : {}),
        },
      };
    };
    const plan = {
      binary: SHIM_BIN,
      ...(shared ? { pool: { dir: path.join(fx.root, 'pool'), tasksPerShim: 3 } } : {}),
      tasks: [
        task('ticker', ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); usleep 20000; done']),
        task('exiter', ['sh', '-c', 'echo bye; sleep 1; exit 7']),
        { ...task('catter', ['cat'], { stdin: true }), input: 'before\n' },
        { ...task('term', ['sh'], { stdin: true, terminal: true }), input: 'echo one$((1+1))\n' },
      ],
    };
    const daemon = spawn(process.execPath, [path.join(import.meta.dirname, 'test-daemon.ts'), JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    daemon.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    type Started = { id: string; shimPid: number; pid: number };
    const startedList = (await waitFor(() => (out.includes('\n') ? JSON.parse(out) as Started[] : undefined), 'the daemon to start its tasks', 60_000))!;
    const started = Object.fromEntries(startedList.map((s) => [s.id, s]));
    for (const s of startedList) fx.track(s.shimPid);
    const processes = new Set(startedList.map((s) => s.shimPid)).size;
    assert.equal(processes, shared ? 2 : 4, 'shim processes');
    await waitFor(() => logText(log('catter')) === 'before\n', 'cat to echo its first input');
    await waitFor(() => logText(log('term')).includes('one2'), 'the terminal to run the first command');

    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));
    const ticksAtKill = logText(log('ticker')).split('\n').length;

    // While nobody is connected: the exiter exits, the ticker keeps logging.
    await waitFor(() => readRecordedExit(fx.stateDir(k('exiter'))) !== undefined, 'the exiter to exit while the daemon is down', 10_000);
    await waitFor(() => logText(log('ticker')).split('\n').length > ticksAtKill + 20, 'the ticker to keep logging');
    for (const s of startedList) assert.ok(isAlive(s.shimPid), `shim of ${s.id} alive`);

    // Reconnect.
    const c = Object.fromEntries(await Promise.all(['ticker', 'exiter', 'catter', 'term'].map(async (n) => [n, await fx.connect(fx.socket(k(n)))] as const)));
    assert.equal(c.ticker!.info.status, 'running');
    assert.equal(c.exiter!.info.status, 'stopped');
    const exiterExit = await c.exiter!.wait();
    assert.equal(exiterExit.exitCode, 7);
    assert.deepEqual(readRecordedExit(fx.stateDir(k('exiter'))), { pid: started[k('exiter')]!.pid, exit: exiterExit });
    assert.equal(logText(log('exiter')), 'bye\n');

    writeFifo(stdin('catter'), 'after\n');
    await waitFor(() => logText(log('catter')) === 'before\nafter\n', 'cat to echo input written after the restart');
    await c.catter!.closeStdin();
    assert.equal((await c.catter!.wait()).exitCode, 0);

    writeFifo(stdin('term'), 'echo two$((1+2)); exit 3\n');
    assert.equal((await c.term!.wait()).exitCode, 3);
    const termLog = logText(log('term'), 'stdout');
    assert.match(termLog, /one2/);
    assert.match(termLog, /two3/);

    // Nothing lost from the ticker's log across the restart and its rotations.
    await c.ticker!.kill('KILL');
    assert.equal((await c.ticker!.wait()).signal, 'SIGKILL');
    const ticks = logText(log('ticker')).trimEnd().split('\n');
    assert.ok(ticks.length > 40, `${ticks.length} ticks`);
    ticks.forEach((t, i) => assert.equal(t, `tick ${i}`));

    for (const n of Object.keys(c)) await c[n]!.delete();
    for (const n of Object.keys(c)) await waitFor(() => !existsSync(fx.socket(k(n))) && !existsSync(fx.stateDir(k(n))), `the endpoint of ${n} to go`);
    // A process per task exits with its task; shared ones are spares again (the daemon's pool is gone).
    if (!shared) await waitFor(() => startedList.every((s) => !isAlive(s.shimPid)), 'all shims to exit after delete');
  });
}

test('a client that connects after the exit still gets it (a second client too)', async () => {
  const id = 'late';
  const shim = await fx.launch(id);
  await shim.create({ bundle: fx.bundle(id, ['sh', '-c', 'exit 42']), runtimeRoot: fx.runtimeRoot });
  await shim.start();
  shim.close();
  await waitFor(() => readRecordedExit(fx.stateDir(id)) !== undefined, 'the exit to be recorded');
  const again = await ShimClient.connect(fx.socket(id));
  const other = await ShimClient.connect(fx.socket(id));
  assert.equal((await again.wait()).exitCode, 42);
  assert.equal((await other.state()).exit?.exitCode, 42);
  other.close();
  await again.delete();
});
