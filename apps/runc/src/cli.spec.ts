// berth-runc as containerd-shim-runc-v2 drives it: the built bundle (dist/main.js) run as a separate
// process, with this test process as the subreaper that inherits the container's init (as the shim is).
import { defaultSpec, setChildSubreaper, waitExit } from '@berth/runtime';
import { removeCgroupTree, run, tempDir, testCgroupParent, unpackRootfs, waitFor } from '@berth/testing';
import type { RuntimeSpec } from '@berth/oci';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const BIN = path.resolve(import.meta.dirname, '../dist/main.js');

describe('berth-runc', () => {
  const tmp = tempDir();
  const cg = testCgroupParent();
  const root = path.join(tmp.path, 'root');
  const log = path.join(tmp.path, 'log.json');
  let rootfs: string;
  let n = 0;
  const runc = (args: string[], opts: { input?: string } = {}) => run(BIN, ['--root', root, '--log', log, '--log-format', 'json', ...args], opts);
  // create hands berth-runc's own stdio to the container (as runc does): give it files, and wait for berth-runc
  // to exit rather than for the pipes to close (the container keeps them).
  const runcCreate = async (args: string[]) => {
    const out = path.join(tmp.path, `create-${++n}.out`);
    const fd = openSync(out, 'w');
    const child = spawn(BIN, ['--root', root, '--log', log, '--log-format', 'json', 'create', ...args], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const [code] = (await once(child, 'exit')) as [number];
    return { code, stderr: readFileSync(out, 'utf8') };
  };
  const bundle = (args: string[], mutate?: (s: RuntimeSpec) => void) => {
    const id = `r${++n}-${process.pid}`;
    const b = path.join(tmp.path, id);
    mkdirSync(b);
    const s = defaultSpec();
    s.root = { path: rootfs, readonly: true };
    s.process!.terminal = false;
    s.process!.args = args;
    s.linux!.cgroupsPath = `${cg}/${id}`;
    mutate?.(s);
    writeFileSync(path.join(b, 'config.json'), JSON.stringify(s));
    return { id, b };
  };

  before(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build -w @berth/runc`);
    setChildSubreaper();
    chmodSync(tmp.path, 0o755);
    rootfs = unpackRootfs('busybox', path.join(tmp.path, 'rootfs'));
  });
  after(async () => {
    try {
      const left = await runc(['list', '-q']);
      for (const id of left.stdout.split('\n').filter(Boolean)) await runc(['delete', '--force', id]);
      removeCgroupTree(cg);
    } finally {
      tmp[Symbol.dispose]();
    }
  });

  it('prints its version and writes runc\'s example spec', async () => {
    const v = await run(BIN, ['--version']);
    assert.match(v.stdout, /^berth-runc version \d+\.\d+\.\d+\nspec: 1\.1\.0\n$/);
    const dir = path.join(tmp.path, 'spec');
    mkdirSync(dir);
    assert.equal((await run(BIN, ['spec', '--bundle', dir])).code, 0);
    const spec = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as RuntimeSpec;
    assert.deepEqual(spec.process!.args, ['sh']);
    assert.equal(spec.root!.path, 'rootfs');
    const again = await run(BIN, ['spec', '--bundle', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /File config.json exists. Remove it first./);
  });

  it('create → state → start → kill → delete, as the shim calls them', async () => {
    const { id, b } = bundle(['sleep', '60']);
    const pidFile = path.join(b, 'init.pid');
    const c = await runcCreate(['--bundle', b, '--pid-file', pidFile, id]);
    assert.equal(c.code, 0, c.stderr);
    const pidText = readFileSync(pidFile, 'utf8');
    assert.match(pidText, /^\d+$/, 'decimal, no newline');
    const pid = Number(pidText);
    const exited = waitExit(pid); // re-parented to us, the subreaper, when berth-runc exited
    const st = JSON.parse((await runc(['state', id])).stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(st).sort(), ['bundle', 'created', 'id', 'ociVersion', 'owner', 'pid', 'rootfs', 'status']);
    assert.equal(st.status, 'created');
    assert.equal(st.pid, pid);
    assert.equal((await runc(['start', id])).code, 0);
    assert.equal(JSON.parse((await runc(['state', id])).stdout).status, 'running');
    const list = JSON.parse((await runc(['list', '--format', 'json'])).stdout) as { id: string }[];
    assert.ok(list.some((x) => x.id === id));
    assert.deepEqual(JSON.parse((await runc(['ps', '--format', 'json', id])).stdout), [pid]);
    const d = await runc(['delete', id]);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /cannot delete container .* that is not stopped: running/);
    assert.equal((await runc(['kill', id, 'KILL'])).code, 0);
    assert.equal((await exited).signal, 'SIGKILL');
    assert.equal(JSON.parse((await runc(['state', id])).stdout).status, 'stopped');
    assert.equal((await runc(['delete', id])).code, 0);
    assert.equal(existsSync(path.join(root, id)), false);
    const s = await runc(['state', id]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /container does not exist/);
    const last = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string }).at(-1)!;
    assert.equal(last.level, 'error');
    assert.match(last.msg, /container does not exist/);
  });

  it('exec --process --detach --pid-file, foreground exec, pause/resume, update --resources -, events --stats', async () => {
    const { id, b } = bundle(['sleep', '60']);
    assert.equal((await runcCreate(['--bundle', b, '--pid-file', path.join(b, 'pid'), id])).code, 0);
    const exited = waitExit(Number(readFileSync(path.join(b, 'pid'), 'utf8')));
    assert.equal((await runc(['start', id])).code, 0);
    const proc = { ...defaultSpec().process!, terminal: false, args: ['sh', '-c', 'echo detached > /dev/shm/out; sleep 1'] };
    writeFileSync(path.join(b, 'process.json'), JSON.stringify(proc));
    const e = await runc(['exec', '--process', path.join(b, 'process.json'), '--detach', '--pid-file', path.join(b, 'exec.pid'), id]);
    assert.equal(e.code, 0, e.stderr);
    const execPid = Number(readFileSync(path.join(b, 'exec.pid'), 'utf8'));
    assert.equal((await waitExit(execPid)).status, 0);
    const fg = await runc(['exec', id, 'sh', '-c', 'cat /dev/shm/out; exit 5']);
    assert.equal(fg.code, 5);
    assert.equal(fg.stdout, 'detached\n');
    const missing = await runc(['exec', id, 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /exec: "nope": executable file not found in \$PATH/);

    assert.equal((await runc(['pause', id])).code, 0);
    assert.equal(JSON.parse((await runc(['state', id])).stdout).status, 'paused');
    assert.equal((await runc(['resume', id])).code, 0);
    assert.equal(JSON.parse((await runc(['state', id])).stdout).status, 'running');
    const u = await runc(['update', '--resources', '-', id], { input: JSON.stringify({ memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 30 } }) });
    assert.equal(u.code, 0, u.stderr);
    assert.equal(readFileSync(path.join('/sys/fs/cgroup/memory', cg, id, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
    const ev = JSON.parse((await runc(['events', '--stats', id])).stdout) as { type: string; id: string; data: { memory: { usage: { limit: number } }; pids: { current: number; limit: number } } };
    assert.equal(ev.type, 'stats');
    assert.equal(ev.data.memory.usage.limit, 64 * 1024 * 1024);
    assert.equal(ev.data.pids.limit, 30);
    assert.equal(ev.data.pids.current, 1);
    assert.equal((await runc(['kill', '--all', id, '9'])).code, 0);
    await exited;
    assert.equal((await runc(['delete', id])).code, 0);
  });

  it('events streams stats until the container stops; update takes runc\'s flags', async () => {
    const { id, b } = bundle(['sleep', '1']);
    assert.equal((await runcCreate(['--bundle', b, '--pid-file', path.join(b, 'pid'), id])).code, 0);
    const exited = waitExit(Number(readFileSync(path.join(b, 'pid'), 'utf8')));
    assert.equal((await runc(['update', '--memory', '48m', '--pids-limit', '9', id])).code, 0);
    assert.equal((await runc(['start', id])).code, 0);
    const ev = await runc(['events', '--interval', '200ms', id]);
    assert.equal(ev.code, 0, ev.stderr);
    const lines = ev.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; id: string; data: { memory: { usage: { limit: number } }; pids: { limit: number } } });
    assert.ok(lines.length >= 2, `several stats lines: ${ev.stdout}`);
    for (const l of lines) {
      assert.equal(l.type, 'stats');
      assert.equal(l.id, id);
      assert.equal(l.data.memory.usage.limit, 48 * 1024 * 1024);
      assert.equal(l.data.pids.limit, 9);
    }
    assert.equal((await exited).status, 0);
    assert.equal((await runc(['delete', id])).code, 0);
  });

  it('sends the pty master to --console-socket', async () => {
    const { id, b } = bundle(['sh', '-c', 'tty; echo from-pty'], (s) => {
      s.process!.terminal = true;
    });
    const sock = path.join(b, 'console.sock');
    const receiver = spawn('python3', [path.join(import.meta.dirname, 'testdata/console-receiver.py'), sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    receiver.stdout.on('data', (d: Buffer) => (out += d.toString()));
    receiver.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => err.includes('listening'), 'console receiver');
    const noSocket = await runcCreate(['--bundle', b, id]);
    assert.equal(noSocket.code, 1);
    assert.match(noSocket.stderr, /cannot allocate tty if runc will detach without setting console socket/);
    const c = await runcCreate(['--bundle', b, '--console-socket', sock, '--pid-file', path.join(b, 'pid'), id]);
    assert.equal(c.code, 0, c.stderr);
    const exited = waitExit(Number(readFileSync(path.join(b, 'pid'), 'utf8')));
    assert.equal((await runc(['start', id])).code, 0);
    assert.equal((await exited).status, 0);
    await new Promise((r) => receiver.on('close', r));
    assert.match(err, /name=\/dev\/ptmx/);
    assert.equal(out, '/dev/pts/0\r\nfrom-pty\r\n');
    assert.equal((await runc(['delete', id])).code, 0);
  });

  it('run: exits with the container\'s status and removes it; through a real terminal with -t', async () => {
    const { id, b } = bundle(['sh', '-c', 'echo ran; exit 4']);
    const r = await runc(['run', '--bundle', b, id]);
    assert.equal(r.code, 4);
    assert.equal(r.stdout, 'ran\n');
    assert.equal(existsSync(path.join(root, id)), false);

    const t = bundle(['sh', '-c', 'tty; read line; echo "got $line"'], (s) => {
      s.process!.terminal = true;
    });
    const cmd = `${BIN} --root ${root} run --bundle ${t.b} ${t.id}`;
    const s = await run('script', ['-qec', cmd, '/dev/null'], { input: 'hello\n' });
    assert.equal(s.code, 0, s.stdout + s.stderr);
    // the outer terminal (script's) keeps ONLCR in Node's raw mode: \r\n may arrive as \r\r\n
    assert.match(s.stdout, /\/dev\/pts\/0\r+\n/);
    assert.match(s.stdout, /got hello\r+\n/);
  });

  it('reports bad input as errors in --log and leaves nothing behind', async () => {
    const { id, b } = bundle(['true'], (s) => {
      s.linux!.namespaces!.push({ type: 'bogus' as 'pid' });
    });
    const r = await runcCreate(['--bundle', b, id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown namespace type "bogus"/);
    assert.equal(existsSync(path.join(root, id)), false);
    const last = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1)!) as { level: string; msg: string };
    assert.equal(last.level, 'error');
    assert.match(last.msg, /unknown namespace type "bogus"/);
  });
});
