/**
 * Execs (`docker exec`): created against a running container, started once, with their own stdio FIFOs
 * (output is not logged, as in Docker). A *session* is one exec's run: its process in runtimed, the pumps
 * between the FIFOs and the client, and the exit code recorded for `GET /exec/{id}/json`.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { PROCESS_TYPE_URL, packJson, type RuntimedClient } from '@berth/containerd-api';
import type { ExecCreateRequest, ExecInspect } from '@berth/docker-api';
import { ConflictError, InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import type { Process } from '@berth/oci';
import type { HijackedConn } from '../api/hijack.ts';
import { encodeOutput, frame, streamContentType } from '../api/stdcopy.ts';
import type { DaemonConfig } from '../config.ts';
import { DetachScanner, parseDetachKeys } from '../containers/attach.ts';
import type { Container } from '../containers/container.ts';
import type { ContainerManager } from '../containers/manager.ts';
import { layerDirs, readLayeredFile } from '../containers/rootfs.ts';
import { makeFifos, OutputPipe, StdinPipe } from '../containers/stdio.ts';
import { containerEnv, replaceOrAppendEnv } from '../containers/task.ts';
import { effectiveCapabilities, parseSecurityOpts } from '../spec/generate.ts';
import { resolveUser } from '../spec/user.ts';

export interface ExecRecord {
  id: string;
  containerId: string;
  config: Required<Pick<ExecCreateRequest, 'Cmd'>> & ExecCreateRequest;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  detachKeys: string;
  ended: Promise<void>;
  end: () => void;
}

export class ExecManager {
  private readonly execs = new Map<string, ExecRecord>();
  private readonly rt: RuntimedClient;
  private readonly containers: ContainerManager;
  private readonly config: DaemonConfig;
  private readonly log: FastifyBaseLogger;

  constructor(deps: { rt: RuntimedClient; containers: ContainerManager; config: DaemonConfig; log: FastifyBaseLogger }) {
    this.rt = deps.rt;
    this.containers = deps.containers;
    this.config = deps.config;
    this.log = deps.log.child({ component: 'exec' });
    // Execs go with their container.
    deps.containers.onStopped((c) => {
      if (!c.removed) return;
      for (const id of c.execIds) this.execs.delete(id);
    });
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw new NotFoundError(`No such exec instance: ${id}`);
    return e;
  }

  create(ref: string, body: unknown): { Id: string } {
    const c = this.containers.get(ref);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('invalid JSON: expected an object');
    const b = body as ExecCreateRequest;
    const cmd = typeof (b.Cmd as unknown) === 'string' ? [b.Cmd as unknown as string] : b.Cmd;
    if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((x) => typeof x !== 'string')) throw new InvalidArgumentError('No exec command specified');
    if (b.Env !== undefined && b.Env !== null && (!Array.isArray(b.Env) || b.Env.some((x) => typeof x !== 'string'))) {
      throw new InvalidArgumentError('invalid JSON: Env must be an array of strings');
    }
    for (const f of ['User', 'WorkingDir', 'DetachKeys'] as const) {
      if (b[f] !== undefined && b[f] !== null && typeof b[f] !== 'string') throw new InvalidArgumentError(`invalid JSON: ${f} must be a string`);
    }
    if (b.WorkingDir && !b.WorkingDir.startsWith('/')) throw new InvalidArgumentError(`the working directory '${b.WorkingDir}' is invalid, it needs to be an absolute path`);
    if (!c.hasTask) throw new ConflictError(`container ${c.id} is not running`);
    if (c.paused) throw new ConflictError(`container ${c.id} is paused, unpause the container before exec`);
    if (c.status === 'restarting') throw new ConflictError(`Container ${c.id} is restarting, wait until the container is running`);
    if (b.DetachKeys) parseDetachKeys(b.DetachKeys);
    const id = randomBytes(32).toString('hex');
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    this.execs.set(id, {
      id, containerId: c.id, config: { ...b, Cmd: cmd }, running: false, started: false, exitCode: null, pid: 0,
      detachKeys: b.DetachKeys ?? '', ended, end,
    });
    c.execIds.add(id);
    this.containers.emit(c, `exec_create: ${cmd.join(' ')}`, { execID: id });
    return { Id: id };
  }

  inspect(id: string): ExecInspect {
    const e = this.get(id);
    const cfg = e.config;
    return {
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.detachKeys,
      ExitCode: e.exitCode,
      ID: e.id,
      OpenStderr: cfg.AttachStderr ?? false,
      OpenStdin: cfg.AttachStdin ?? false,
      OpenStdout: cfg.AttachStdout ?? false,
      ProcessConfig: {
        arguments: cfg.Cmd.slice(1), entrypoint: cfg.Cmd[0]!, privileged: cfg.Privileged ?? false, tty: cfg.Tty ?? false,
        ...(cfg.User ? { user: cfg.User } : {}),
      },
      Running: e.running,
      Pid: e.pid,
    };
  }

  async resize(id: string, h: number, w: number): Promise<void> {
    const e = this.get(id);
    if (!e.running) throw new ConflictError(`exec ${id} is not running`);
    await this.rt.tasks.resizePty(e.containerId, w, h, id);
  }

  /** The process spec of an exec, from the container's configuration. */
  private async processSpec(c: Container, e: ExecRecord, tty: boolean): Promise<Process> {
    const cfg = e.config;
    const mounts = await this.rt.snapshots.mounts(c.rec.SnapshotKey, c.rec.Snapshotter);
    const dirs = layerDirs(mounts);
    const user = resolveUser(cfg.User || c.rec.Config.User || '', c.rec.HostConfig.GroupAdd ?? [], {
      passwd: readLayeredFile(dirs, 'etc/passwd'), group: readLayeredFile(dirs, 'etc/group'),
    });
    const base = containerEnv({ Tty: tty, Env: c.rec.Config.Env ?? [] }, c.rec.Config.Hostname || c.shortId, user.home);
    const env = replaceOrAppendEnv(base, cfg.Env ?? []);
    const caps = cfg.Privileged ? effectiveCapabilities({ Privileged: true }) : effectiveCapabilities(c.rec.HostConfig);
    const sec = parseSecurityOpts(c.rec.HostConfig.SecurityOpt);
    const size = cfg.ConsoleSize;
    return {
      terminal: tty,
      ...(tty && size && size[0] > 0 && size[1] > 0 ? { consoleSize: { height: size[0], width: size[1] } } : {}),
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length > 0 ? { additionalGids: user.additionalGids } : {}) },
      args: cfg.Cmd,
      env,
      cwd: cfg.WorkingDir || c.rec.Config.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: sec.noNewPrivileges ?? this.config.noNewPrivileges,
    };
  }

  /**
   * Starts an exec. With `conn` (attached) the output streams to it until the process ends; without, the
   * process runs detached.
   */
  async start(id: string, opts: { detach: boolean; tty?: boolean; consoleSize?: [number, number] | null }, conn?: HijackedConn, apiVersion = '1.47'): Promise<void> {
    const e = this.get(id);
    const c = this.containers.get(e.containerId);
    if (e.started) {
      if (e.running) throw new ConflictError(`Error: Exec command ${id} is already running`);
      throw new ConflictError(`Error: Exec command ${id} has already run`);
    }
    if (!c.hasTask) throw new ConflictError(`container ${c.id} is not running`);
    if (c.paused) throw new ConflictError(`container ${c.id} is paused, unpause the container before exec`);
    e.started = true;
    const cfg = e.config;
    const tty = opts.tty ?? cfg.Tty ?? false;
    if (opts.consoleSize) cfg.ConsoleSize = opts.consoleSize;
    const attached = !opts.detach && conn !== undefined;
    const dir = path.join(this.config.execRoot, 'execs', id);
    const wantIn = attached && cfg.AttachStdin === true;
    const wantOut = attached && (cfg.AttachStdout ?? true);
    const wantErr = attached && !tty && (cfg.AttachStderr ?? true);
    const paths = {
      stdin: wantIn ? path.join(dir, 'stdin') : '',
      stdout: wantOut ? path.join(dir, 'stdout') : '',
      stderr: wantErr ? path.join(dir, 'stderr') : '',
    };
    const fifos = [paths.stdin, paths.stdout, paths.stderr].filter(Boolean);
    let stdin: StdinPipe | undefined;
    let exitWait: Promise<{ exitStatus: number }> | undefined;
    const outputs: { pipe: OutputPipe; stream: 1 | 2 }[] = [];
    const cleanup = () => {
      for (const o of outputs) o.pipe.destroy();
      void stdin?.close();
      rmSync(dir, { recursive: true, force: true });
    };
    if (attached) conn.begin(streamContentType(tty, apiVersion));
    try {
      if (fifos.length > 0) await makeFifos(dir, fifos);
      if (paths.stdout) outputs.push({ pipe: new OutputPipe(paths.stdout), stream: 1 });
      if (paths.stderr) outputs.push({ pipe: new OutputPipe(paths.stderr), stream: 2 });
      if (paths.stdin) {
        stdin = new StdinPipe(paths.stdin);
        stdin.open();
      }
      const spec = await this.processSpec(c, e, tty);
      await this.rt.tasks.exec({
        containerId: c.id, execId: id, spec: packJson(PROCESS_TYPE_URL, spec),
        stdin: paths.stdin, stdout: paths.stdout, stderr: paths.stderr, terminal: tty,
      });
      // Waiting before the start: a process that ends at once is still seen ending.
      exitWait = this.rt.tasks.wait(c.id, id);
      exitWait.catch(() => undefined);
      e.pid = await this.rt.tasks.start(c.id, id);
      e.running = true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      e.exitCode = /executable file not found|no such file or directory/.test(message) ? 127 : 126;
      e.running = false;
      await this.rt.tasks.deleteProcess(c.id, id).catch(() => undefined);
      cleanup();
      e.end();
      this.log.debug({ execId: id, err }, 'exec start failed');
      if (!attached) throw err;
      // Docker writes the error into the stream and the client reads the exit code from inspect.
      await conn.write(tty ? Buffer.from(`${message}\r\n`) : frame(1, Buffer.from(`${message}\r\n`)));
      return;
    }
    for (const o of outputs) o.pipe.release();
    this.containers.emit(c, `exec_start: ${cfg.Cmd.join(' ')}`, { execID: id });

    const exited = exitWait!.then((st) => st.exitStatus, (err: unknown) => {
      this.log.warn({ execId: id, err }, 'waiting for the exec failed');
      return 126;
    });
    const finish = async () => {
      const code = await exited;
      e.exitCode = code;
      e.running = false;
      await this.rt.tasks.deleteProcess(c.id, id).catch(() => undefined);
      this.containers.emit(c, 'exec_die', { execID: id, exitCode: String(code) });
      e.end();
    };
    if (!attached) {
      void finish().finally(cleanup);
      return;
    }

    const detached = new AbortController();
    if (stdin && conn.input) {
      void this.pumpInput(conn, stdin, parseDetachKeys(e.detachKeys || undefined), detached, () => this.rt.tasks.closeIO(c.id, id));
    }
    const pumps = outputs.map(async (o) => {
      try {
        for await (const chunk of o.pipe.socket as AsyncIterable<Buffer>) {
          if (detached.signal.aborted) return;
          await conn.write(encodeOutput(tty, o.stream, chunk));
        }
      } catch {
        // The pipe was destroyed (client gone).
      }
    });
    const onGone = () => {
      for (const o of outputs) o.pipe.destroy();
    };
    conn.signal.addEventListener('abort', onGone, { once: true });
    detached.signal.addEventListener('abort', onGone, { once: true });
    await Promise.all(pumps);
    await finish();
    cleanup();
  }

  private async pumpInput(
    conn: HijackedConn, stdin: StdinPipe, keys: Buffer, detached: AbortController, closeIO: () => Promise<void>,
  ): Promise<void> {
    const scanner = new DetachScanner(keys);
    try {
      for await (const chunk of conn.input as AsyncIterable<Buffer>) {
        const { data, detach } = scanner.feed(chunk);
        if (data.length > 0) await stdin.write(data);
        if (detach) {
          detached.abort();
          conn.end();
          return;
        }
      }
    } catch {
      // client gone
    }
    await stdin.close();
    await closeIO().catch(() => undefined);
  }

  /**
   * Runs a command in a running container and collects its output (at most `maxOutput` bytes), killing it
   * after `timeoutMs`; for health checks, which are not listed as the container's execs.
   */
  async runCaptured(
    c: Container, args: string[], timeoutMs: number, maxOutput = 4096,
  ): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
    const id = `health-${randomBytes(16).toString('hex')}`;
    const dir = path.join(this.config.execRoot, 'execs', id);
    const out = path.join(dir, 'stdout');
    const err = path.join(dir, 'stderr');
    await makeFifos(dir, [out, err]);
    const pipes = [new OutputPipe(out), new OutputPipe(err)];
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = pipes.map(async (p) => {
      try {
        for await (const chunk of p.socket as AsyncIterable<Buffer>) {
          if (size < maxOutput) chunks.push(chunk.subarray(0, maxOutput - size));
          size += chunk.length;
        }
      } catch {
        // Destroyed (timeout, or the container went away).
      }
    });
    const record: ExecRecord = {
      id, containerId: c.id, config: { Cmd: args }, running: false, started: true, exitCode: null, pid: 0, detachKeys: '',
      ended: Promise.resolve(), end: () => undefined,
    };
    let timedOut = false;
    try {
      const spec = await this.processSpec(c, record, false);
      await this.rt.tasks.exec({ containerId: c.id, execId: id, spec: packJson(PROCESS_TYPE_URL, spec), stdin: '', stdout: out, stderr: err, terminal: false });
      const exitWait = this.rt.tasks.wait(c.id, id);
      exitWait.catch(() => undefined);
      await this.rt.tasks.start(c.id, id);
      for (const p of pipes) p.release();
      const timer = setTimeout(() => {
        timedOut = true;
        void this.rt.tasks.kill(c.id, 9, { execId: id }).catch(() => undefined);
      }, timeoutMs);
      const st = await exitWait;
      clearTimeout(timer);
      await Promise.race([Promise.all(collect), new Promise((r) => setTimeout(r, 1000))]);
      return { exitCode: timedOut ? -1 : st.exitStatus, output: Buffer.concat(chunks).toString('utf8'), timedOut };
    } finally {
      await this.rt.tasks.deleteProcess(c.id, id).catch(() => undefined);
      for (const p of pipes) p.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
