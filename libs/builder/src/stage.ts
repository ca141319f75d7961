/**
 * One build stage: FROM (image, scratch or an earlier stage, with its ONBUILD triggers), then each instruction
 * with the classic builder's semantics — variable substitution where Docker allows it, the image config
 * changes, a history entry per step (`empty_layer` for metadata-only steps), the step cache (`Using cache`;
 * after the first miss in a stage nothing more is looked up) and the filesystem steps (RUN in a container,
 * COPY/ADD, WORKDIR) as work layers committed straight from their changes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, writeFileSync, statSync, mkdtempSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '@berth/errdefs';
import { chainID } from '@berth/layer-store';
import type { Digest, ImageConfig } from '@berth/oci';
import type { BuildArgs } from './build-args.ts';
import type { BuildBackend, CachedStep, ImageSource, LayerDescriptor, MountedView, RunMountSpec, WorkLayer } from './backend.ts';
import { parseChown } from './chown.ts';
import { dirSum, LazySource, type BuildContext, type CopySource } from './context.ts';
import { copyInfosFor, normalizeDest, performCopy, sourcesHash, type CopyInfo, type Identity } from './copy.ts';
import { download } from './download.ts';
import {
  cloneRunConfig, DEFAULT_PATH, goList, goQuoteList, goTime, healthText, historyEntry, runConfigJson, runConfigOf, serializeConfig,
  type RunConfig,
} from './image-config.ts';
import { parseSingleInstruction, type Instruction, type Stage } from './instructions.ts';
import type { OutputChannel } from './output.ts';
import { chompHeredocContent, parseHeredoc } from './parser.ts';
import { parseRunMount, type RunMount } from './run-mount.ts';
import { resolveInRoot } from './scoped-path.ts';
import { envFromList, ShellLex, type EnvGetter } from './shell-lex.ts';

/** An image state: what a step leaves behind. */
export interface StepImage {
  /** Config digest ('' for scratch). */
  id: string;
  config: ImageConfig;
  layers: LayerDescriptor[];
  chainId: string;
}

/** A RUN that exited non-zero (`code` becomes the CLI's exit status). */
export class BuildStepError extends Error {
  readonly code: number;

  constructor(message: string, code: number) {
    super(message);
    this.name = 'BuildStepError';
    this.code = code;
  }
}

/** What all stages of one build share. */
export interface BuildSession {
  backend: BuildBackend;
  context: BuildContext;
  escapeToken: string;
  noCache: boolean;
  pull: boolean;
  platform?: string;
  /** Default RUN network (`--network` of the build). */
  network: string;
  signal: AbortSignal;
  /** Resolves an earlier stage by name or index (`undefined` when `ref` names none), waiting for it to finish. */
  stage(ref: string, before: number, byIndex: boolean): Promise<StepImage> | undefined;
  /** The result of a FROM/--from image lookup, shared between stages. */
  image(ref: string, progress: OutputChannel): Promise<ImageSource>;
}

export const SCRATCH: StepImage = {
  id: '', config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, layers: [], chainId: '',
};

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function chainOf(diffIds: readonly string[]): string {
  return diffIds.length === 0 ? '' : chainID(diffIds as Digest[]);
}

export function stepFromCache(c: CachedStep): StepImage {
  return { id: serializeConfig(c.config).id, config: c.config, layers: c.layers, chainId: chainOf(c.config.rootfs?.diff_ids ?? []) };
}

export function stepFromImage(img: ImageSource): StepImage {
  return { id: img.id, config: img.config, layers: img.layers, chainId: img.chainId };
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** The classic builder's normalization of WORKDIR against the current one. */
export function normalizeWorkdir(current: string, requested: string): string {
  if (requested === '') throw new InvalidArgumentError('cannot normalize nothing');
  if (!requested.startsWith('/')) return path.posix.join('/', current, requested);
  return path.posix.normalize(requested).replace(/(.)\/$/, '$1');
}

/** `EXPOSE` specs (`80`, `80/udp`, `8000-8002`, `127.0.0.1:80:81`) → `port/proto` keys. */
export function exposedPorts(specs: string[]): string[] {
  const out: string[] = [];
  for (const raw of specs) {
    const parts = raw.split(':');
    const container = parts[parts.length - 1]!;
    const slash = container.indexOf('/');
    const portPart = slash < 0 ? container : container.slice(0, slash);
    const proto = (slash < 0 ? 'tcp' : container.slice(slash + 1) || 'tcp').toLowerCase();
    if (portPart === '') throw new InvalidArgumentError(`No port specified: ${raw}<empty>`);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new InvalidArgumentError(`Invalid proto: ${proto}`);
    const m = /^(\d+)(?:-(\d+))?$/.exec(portPart);
    const start = m ? Number(m[1]) : NaN;
    const end = m?.[2] !== undefined ? Number(m[2]) : start;
    if (!m || start > 65535 || end > 65535 || end < start) throw new InvalidArgumentError(`Invalid containerPort: ${portPart}`);
    for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

const SIGNALS = ['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ'];

function validateSignal(s: string): void {
  if (/^\d+$/.test(s)) {
    if (Number(s) === 0) throw new InvalidArgumentError(`Invalid signal: ${s}`);
    return;
  }
  const name = s.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS.includes(name) || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(name)) return;
  throw new InvalidArgumentError(`Invalid signal: ${s}`);
}

function randomId(): string {
  return randomBytes(32).toString('hex');
}

function parseChmod(s: string): number {
  if (!/^[0-7]{1,4}$/.test(s)) throw new InvalidArgumentError(`invalid chmod parameter: ${s}`);
  return Number.parseInt(s, 8);
}

export class StageRunner {
  private readonly s: BuildSession;
  readonly index: number;
  private readonly stage: Stage;
  private readonly out: OutputChannel;
  private readonly total: number;
  private step: number;
  private readonly shlex: ShellLex;
  readonly buildArgs: BuildArgs;
  private image: StepImage = SCRATCH;
  private runConfig: RunConfig = runConfigOf(undefined);
  private maintainer = '';
  private cmdSet = false;
  private cacheBusted = false;

  constructor(
    session: BuildSession, index: number, stage: Stage, firstStep: number, total: number, buildArgs: BuildArgs, out: OutputChannel,
  ) {
    this.s = session;
    this.index = index;
    this.stage = stage;
    this.step = firstStep;
    this.total = total;
    this.buildArgs = buildArgs;
    this.out = out;
    this.shlex = new ShellLex(session.escapeToken);
  }

  /** Runs the stage to its end; the resulting image state. */
  async run(): Promise<StepImage> {
    this.printStep(this.stage.code);
    await this.begin();
    this.out.stream(` ---> ${shortId(this.image.id)}\n`);
    for (const ins of this.stage.commands) {
      this.s.signal.throwIfAborted();
      this.printStep(ins.code);
      await this.dispatch(ins);
      this.out.stream(` ---> ${shortId(this.image.id)}\n`);
    }
    return this.image;
  }

  private printStep(code: string): void {
    this.out.stream(`Step ${this.step}/${this.total} : ${code}\n`);
    this.step++;
  }

  private metaEnv(): EnvGetter {
    return envFromList([...this.buildArgs.allMeta()].map(([k, v]) => `${k}=${v}`));
  }

  private env(): EnvGetter {
    const env = this.runConfig.Env;
    return envFromList([...env, ...this.buildArgs.filterAllowed(env)]);
  }

  private expand(word: string, env = this.env()): string {
    return this.shlex.processWord(word, env);
  }

  private shell(): string[] {
    return this.runConfig.Shell && this.runConfig.Shell.length > 0 ? [...this.runConfig.Shell] : [...DEFAULT_SHELL];
  }

  // ---- FROM -------------------------------------------------------------------------------------------------

  private async begin(): Promise<void> {
    const st = this.stage;
    if (st.platform) {
      const p = this.expand(st.platform, this.metaEnv());
      if (p !== '' && !/^linux(\/amd64(\/v[1-4])?)?$/.test(p) && p !== 'amd64') {
        throw new InvalidArgumentError(`failed to parse platform ${p}: only the local platform (linux/amd64) can be built here`);
      }
    }
    const name = this.expand(st.baseName, this.metaEnv());
    if (name === '') throw new InvalidArgumentError(`base name (${st.baseName}) should not be blank`);
    const fromStage = this.s.stage(name, this.index, false);
    if (fromStage) this.image = await fromStage;
    else if (name === 'scratch') this.image = SCRATCH;
    else this.image = stepFromImage(await this.s.image(name, this.out));
    this.runConfig = runConfigOf(this.image.config.config);
    if (!this.runConfig.Env.some((e) => e.startsWith('PATH='))) this.runConfig.Env.push(`PATH=${DEFAULT_PATH}`);
    const triggers = this.runConfig.OnBuild ?? [];
    if (triggers.length > 0) {
      this.runConfig.OnBuild = null;
      this.out.stream(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      for (const t of triggers) {
        let ins: Instruction;
        try {
          ins = parseSingleInstruction(t);
        } catch (err) {
          throw new InvalidArgumentError(`${(err as Error).message}`);
        }
        await this.dispatch(ins);
      }
    }
  }

  // ---- steps --------------------------------------------------------------------------------------------------

  private async dispatch(ins: Instruction): Promise<void> {
    switch (ins.kind) {
      case 'env': {
        const env = this.env();
        let msg = 'ENV';
        for (const kv of ins.env) {
          const key = this.expand(kv.key, env);
          const value = this.expand(kv.value, env);
          const v = `${key}=${value}`;
          msg += ` ${v}`;
          const i = this.runConfig.Env.findIndex((e) => e.slice(0, e.includes('=') ? e.indexOf('=') : e.length) === key);
          if (i >= 0) this.runConfig.Env[i] = v;
          else this.runConfig.Env.push(v);
        }
        return this.commit(msg);
      }
      case 'maintainer':
        this.maintainer = ins.maintainer;
        return this.commit(`MAINTAINER ${ins.maintainer}`);
      case 'label': {
        const env = this.env();
        this.runConfig.Labels ??= {};
        let msg = 'LABEL';
        for (const kv of ins.labels) {
          const key = ins.noExpand ? kv.key : this.expand(kv.key, env);
          const value = ins.noExpand ? kv.value : this.expand(kv.value, env);
          this.runConfig.Labels[key] = value;
          msg += ` ${key}=${value}`;
        }
        return this.commit(msg);
      }
      case 'onbuild':
        this.runConfig.OnBuild = [...(this.runConfig.OnBuild ?? []), ins.expression];
        return this.commit(`ONBUILD ${ins.expression}`);
      case 'workdir':
        return this.workdir(this.expand(ins.path));
      case 'run':
        return this.runStep(ins);
      case 'cmd': {
        const cmd = this.resolveCmdLine(ins.cmd.cmdLine, ins.cmd.prependShell);
        this.runConfig.Cmd = cmd;
        this.runConfig.ArgsEscaped = false;
        await this.commit(`CMD ${goQuoteList(cmd)}`);
        if ((ins.cmd.cmdLine ?? []).length !== 0) this.cmdSet = true;
        return;
      }
      case 'entrypoint': {
        const ep = this.resolveCmdLine(ins.cmd.cmdLine, ins.cmd.prependShell);
        this.runConfig.Entrypoint = ep;
        this.runConfig.ArgsEscaped = false;
        if (!this.cmdSet) this.runConfig.Cmd = null;
        return this.commit(`ENTRYPOINT ${goQuoteList(ep)}`);
      }
      case 'healthcheck': {
        const old = this.runConfig.Healthcheck?.Test ?? [];
        if (this.runConfig.Healthcheck && old.length > 0 && old[0] !== 'NONE') {
          this.out.stream(`Note: overriding previous HEALTHCHECK: ${goList(old)}\n`);
        }
        this.runConfig.Healthcheck = { ...ins.health, Test: [...ins.health.Test] };
        return this.commit(`HEALTHCHECK ${healthText(ins.health)}`);
      }
      case 'expose': {
        const env = this.env();
        const ports = ins.ports.flatMap((p) => this.shlex.processWords(p, env));
        const keys = exposedPorts(ports);
        this.runConfig.ExposedPorts ??= {};
        for (const k of keys) this.runConfig.ExposedPorts[k] = {};
        return this.commit(`EXPOSE ${ports.join(' ')}`);
      }
      case 'user':
        this.runConfig.User = this.expand(ins.user);
        return this.commit(`USER ${this.runConfig.User}`);
      case 'volume': {
        const env = this.env();
        const vols = ins.volumes.map((v) => this.expand(v, env));
        this.runConfig.Volumes ??= {};
        for (const v of vols) {
          if (v === '') throw new InvalidArgumentError('VOLUME specified can not be an empty string');
          this.runConfig.Volumes[v] = {};
        }
        return this.commit(`VOLUME ${goList(vols)}`);
      }
      case 'stopsignal': {
        const sig = this.expand(ins.signal);
        validateSignal(sig);
        this.runConfig.StopSignal = sig;
        return this.commit(`STOPSIGNAL ${sig}`);
      }
      case 'arg': {
        const env = this.env();
        const parts: string[] = [];
        for (const a of ins.args) {
          const key = this.expand(a.key, env);
          const value = a.value === undefined ? undefined : this.expand(a.value, env);
          parts.push(value === undefined ? key : `${key}=${value}`);
          this.buildArgs.addArg(key, value);
        }
        return this.commit(`ARG ${parts.join(' ')}`);
      }
      case 'shell':
        this.runConfig.Shell = [...ins.shell];
        return this.commit(`SHELL ${goList(ins.shell)}`);
      case 'add':
      case 'copy':
        return this.copy(ins);
    }
  }

  private resolveCmdLine(cmdLine: string[] | null, prependShell: boolean): string[] | null {
    if (cmdLine === null) return null;
    return prependShell ? [...this.shell(), ...cmdLine] : [...cmdLine];
  }

  // ---- cache ------------------------------------------------------------------------------------------------

  /** A step's cache key: the parent image, the config the step starts from, what it does. */
  private key(cmd: string[], extra: unknown = null): string {
    const h = createHash('sha256');
    h.update(JSON.stringify([this.image.id, runConfigJson({ ...this.runConfig, Image: this.image.id }), cmd, extra]));
    return h.digest('hex');
  }

  private async probe(key: string): Promise<boolean> {
    if (this.s.noCache || this.cacheBusted) return false;
    const hit = await this.s.backend.cacheGet(key);
    if (!hit) {
      this.cacheBusted = true;
      return false;
    }
    this.out.stream(' ---> Using cache\n');
    this.image = stepFromCache(hit);
    const cmdSet = this.cmdSet;
    this.runConfig = runConfigOf(hit.config.config);
    this.cmdSet = cmdSet;
    return true;
  }

  /** The new image state after a step: a history entry, the layer if there is one; stored in the cache. */
  private async advance(key: string, createdBy: string, result: { layer: LayerDescriptor; chainId: string } | undefined): Promise<void> {
    const pc = this.image.config;
    const created = goTime(new Date());
    const config: ImageConfig = {
      architecture: pc.architecture || 'amd64',
      ...(this.maintainer ? { author: this.maintainer } : {}),
      config: runConfigJson({ ...this.runConfig, Image: this.image.id }),
      created,
      history: [...(pc.history ?? []), historyEntry({ created, createdBy, author: this.maintainer, empty: result === undefined })],
      os: pc.os || 'linux',
      rootfs: { type: 'layers', diff_ids: [...(pc.rootfs?.diff_ids ?? []), ...(result ? [result.layer.diffId as Digest] : [])] },
      ...(pc.variant ? { variant: pc.variant } : {}),
    };
    const layers = result ? [...this.image.layers, result.layer] : this.image.layers;
    const chainId = result ? result.chainId : this.image.chainId;
    this.image = { id: serializeConfig(config).id, config, layers, chainId };
    this.runConfig = cloneRunConfig({ ...this.runConfig, Image: '' });
    await this.s.backend.cachePut(key, { config, layers }, chainId ? [chainId] : []);
  }

  /** A metadata-only step (`#(nop)` in history, an empty layer). */
  private async commit(comment: string): Promise<void> {
    const cmd = [...this.shell(), '#(nop) ', comment];
    const key = this.key(cmd);
    if (await this.probe(key)) return;
    await this.advance(key, cmd.join(' '), undefined);
  }

  /** Runs `fn` on a work layer on top of the current chain and commits what it changed. */
  private async withLayer(fn: (layer: WorkLayer) => Promise<void>): Promise<{ layer: LayerDescriptor; chainId: string } | undefined> {
    const layer = await this.s.backend.prepare(this.image.chainId, this.s.signal);
    let done = false;
    try {
      await fn(layer);
      const r = await layer.commit(this.s.signal);
      done = true;
      return r;
    } finally {
      if (!done) await layer.remove().catch(() => undefined);
    }
  }

  // ---- WORKDIR ----------------------------------------------------------------------------------------------

  private async workdir(requested: string): Promise<void> {
    const dir = normalizeWorkdir(this.runConfig.WorkingDir, requested);
    this.runConfig.WorkingDir = dir;
    const cmd = [...this.shell(), `#(nop) WORKDIR ${dir}`];
    const key = this.key(cmd);
    if (await this.probe(key)) return;
    const result = await this.withLayer(async (layer) => {
      const root = await layer.mount();
      const target = resolveInRoot(root, dir);
      let st;
      try {
        st = lstatSync(target);
      } catch {
        st = undefined;
      }
      if (st && !st.isDirectory()) throw new InvalidArgumentError(`Cannot mkdir: ${dir} is not a directory`);
      if (!st) await mkdirRoot(root, dir);
      await layer.unmount();
    });
    await this.advance(key, cmd.join(' '), result);
  }

  // ---- RUN --------------------------------------------------------------------------------------------------

  private async runStep(ins: Extract<Instruction, { kind: 'run' }>): Promise<void> {
    const env = this.env();
    const mounts = ins.mounts.map((m) => parseRunMount(m, (v) => this.expand(v, env)));
    if (ins.security === 'insecure') {
      throw new InvalidArgumentError('RUN --security=insecure needs the security.insecure entitlement, which the classic build API cannot grant');
    }
    const network = ins.network || this.s.network;
    let args = ins.cmd.cmdLine ?? [];
    const scriptMounts: RunMountSpec[] = [];
    if (ins.cmd.files.length > 0) {
      if (args.length !== 1 || !ins.cmd.prependShell) throw new InvalidArgumentError(`parsing produced an invalid run command: ${goList(args)}`);
      const h = parseHeredoc(args[0]!);
      if (h) {
        const f = ins.cmd.files[0]!;
        const data = f.chomp ? chompHeredocContent(f.data) : f.data;
        if (data.startsWith('#!')) {
          const dir = mkdtempSync(path.join(this.s.backend.scratchDir(), 'heredoc-'));
          const file = path.join(dir, path.basename(f.name) || 'script');
          writeFileSync(file, data, { mode: 0o755 });
          const target = path.posix.join('/dev/pipes', f.name);
          scriptMounts.push({ target, source: file, readOnly: true });
          args = [target];
        } else {
          args = [data];
        }
      } else {
        let b = args[0]!;
        for (const f of ins.cmd.files) b += `\n${f.data}${f.name}`;
        args = [b];
      }
    }
    const cmdFromArgs = ins.cmd.prependShell ? [...this.shell(), ...args] : [...args];
    const buildArgsEnv = this.buildArgs.filterAllowed(this.runConfig.Env);
    let saveCmd = cmdFromArgs;
    if (buildArgsEnv.length > 0) {
      const used = buildArgsEnv.filter((e) => this.buildArgs.isReferencedOrNotBuiltin(e.slice(0, e.indexOf('=')))).sort();
      saveCmd = [`|${used.length}`, ...used, ...cmdFromArgs];
    }
    const mountKeys = [];
    for (const m of mounts) mountKeys.push({ ...m, content: await this.mountContentKey(m) });
    const key = this.key(saveCmd, { mounts: mountKeys, network, scripts: scriptMounts.map((m) => m.target) });
    if (await this.probe(key)) return;

    const id = randomId();
    this.out.stream(` ---> Running in ${id.slice(0, 12)}\n`);
    const views: MountedView[] = [];
    let result: { layer: LayerDescriptor; chainId: string } | undefined;
    try {
      const specs = [...await this.volumeMounts(views), ...await this.runMounts(mounts, views), ...scriptMounts];
      result = await this.withLayer(async (layer) => {
        const code = await layer.run({
          id, args: cmdFromArgs, env: [...this.runConfig.Env, ...buildArgsEnv], user: this.runConfig.User,
          workdir: this.runConfig.WorkingDir || '/', mounts: specs, network, security: ins.security,
          stdout: (b) => this.out.stdout(b), stderr: (b) => this.out.stderr(b),
        }, this.s.signal);
        if (code !== 0) throw new BuildStepError(`The command '${cmdFromArgs.join(' ')}' returned a non-zero code: ${code}`, code);
      });
    } finally {
      for (const v of views) await v.release().catch(() => undefined);
    }
    this.out.stream(`Removing intermediate container ${id.slice(0, 12)}\n`);
    await this.advance(key, saveCmd.join(' '), result);
  }

  /**
   * VOLUMEs declared so far: as in dockerd's classic builder, a RUN sees each one as a fresh volume holding the
   * image's content there, its writes there are discarded, and the mount point stays in the layer.
   */
  private async volumeMounts(views: MountedView[]): Promise<RunMountSpec[]> {
    const vols = Object.keys(this.runConfig.Volumes ?? {}).filter((v) => v.startsWith('/') && v !== '/');
    if (vols.length === 0) return [];
    const view = await this.s.backend.view(this.image.chainId, this.s.signal);
    views.push(view);
    const out: RunMountSpec[] = [];
    for (const v of vols) {
      const dir = mkdtempSync(path.join(this.s.backend.scratchDir(), 'volume-'));
      const src = resolveInRoot(view.dir, v);
      let isDir = false;
      try {
        isDir = statSync(src).isDirectory();
      } catch {
        // not in the image: an empty volume
      }
      if (isDir) await fsp.cp(src, dir, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, force: true });
      out.push({ target: v, source: dir, readOnly: false, keepMountPoint: true });
    }
    return out;
  }

  /** What a bind mount's content is, for the cache key (cache and tmpfs mounts do not affect it). */
  private async mountContentKey(m: RunMount): Promise<string> {
    if (m.type !== 'bind') return '';
    if (m.from !== '') return `image:${(await this.fromImageOrStage(m.from, 'from flag')).id}`;
    const rel = m.source.replace(/^\/+/, '') || '.';
    try {
      return statSync(resolveInRoot(this.s.context.root, rel)).isDirectory() ? dirSum(this.s.context, rel) : this.s.context.hash(rel);
    } catch {
      return `missing:${rel}`;
    }
  }

  private async sourceRoot(from: string, views: MountedView[], what: string): Promise<CopySource> {
    if (from === '') return this.s.context;
    const img = await this.fromImageOrStage(from, what);
    const view = await this.s.backend.view(img.chainId, this.s.signal);
    views.push(view);
    return new LazySource(view.dir);
  }

  private async fromImageOrStage(from: string, what: string): Promise<StepImage> {
    const byIndex = /^\d+$/.test(from);
    let stage: Promise<StepImage> | undefined;
    try {
      stage = this.s.stage(from, this.index, byIndex);
    } catch (err) {
      throw new InvalidArgumentError(`invalid ${what} value ${from}: ${(err as Error).message}`);
    }
    if (stage) return stage;
    try {
      return stepFromImage(await this.s.image(from, this.out));
    } catch (err) {
      throw new InvalidArgumentError(`invalid ${what} value ${from}: ${(err as Error).message}`);
    }
  }

  private async runMounts(mounts: RunMount[], views: MountedView[]): Promise<RunMountSpec[]> {
    const out: RunMountSpec[] = [];
    for (const m of mounts) {
      const target = m.target.startsWith('/') ? m.target : path.posix.join('/', this.runConfig.WorkingDir || '/', m.target);
      if (m.type === 'tmpfs') {
        out.push({ target, source: '', readOnly: false, tmpfs: { size: m.size } });
      } else if (m.type === 'cache') {
        const dir = await this.s.backend.cacheMount(m.id || target);
        if (!lstatSync(dir).isDirectory()) throw new InvalidArgumentError(`cache mount ${m.id || target} is not a directory`);
        const st = statSync(dir);
        if (st.uid !== (m.uid ?? 0) || st.gid !== (m.gid ?? 0)) await fsp.chown(dir, m.uid ?? 0, m.gid ?? 0);
        if ((st.mode & 0o7777) !== (m.mode ?? 0o755)) await fsp.chmod(dir, m.mode ?? 0o755);
        out.push({ target, source: dir, readOnly: m.readOnly });
      } else {
        const src = await this.sourceRoot(m.from, views, 'from flag');
        const rel = m.source.replace(/^\/+/, '');
        let host = resolveInRoot(src.root, rel);
        try {
          lstatSync(host);
        } catch {
          throw new NotFoundError(`failed to compute cache key: "/${rel}" not found`);
        }
        if (!m.readOnly) {
          // Writes to a read-write bind mount are discarded: the container gets a copy.
          const copy = mkdtempSync(path.join(this.s.backend.scratchDir(), 'bind-'));
          const dst = path.join(copy, 'src');
          await fsp.cp(host, dst, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
          host = dst;
        }
        out.push({ target, source: host, readOnly: m.readOnly });
      }
    }
    return out;
  }

  // ---- COPY / ADD -------------------------------------------------------------------------------------------

  private async copy(ins: Extract<Instruction, { kind: 'add' | 'copy' }>): Promise<void> {
    const cmdName = ins.kind === 'add' ? 'ADD' : 'COPY';
    if (ins.excludes.length > 0) throw new InvalidArgumentError(`${cmdName} --exclude is not supported by this builder`);
    if (ins.kind === 'copy' && ins.parents) throw new InvalidArgumentError('COPY --parents is not supported by this builder');
    const env = this.env();
    const sources = ins.src.sources.map((s) => this.expand(s, env));
    const dest = this.expand(ins.src.dest, env);
    const chown = this.expand(ins.chown, env);
    const chmodText = this.expand(ins.chmod, env);
    const chmod = chmodText ? parseChmod(chmodText) : undefined;
    const from = ins.kind === 'copy' ? ins.from : '';
    const checksum = ins.kind === 'add' ? this.expand(ins.checksum, env) : '';
    const views: MountedView[] = [];
    try {
      let infos: CopyInfo[];
      try {
        infos = await this.copyInfos(cmdName, sources, from, views, checksum);
        for (const c of ins.src.contents) infos.push(this.heredocSource(c.path, c.expand ? this.expand(c.data, env) : c.data));
        if (infos.length === 0) throw new InvalidArgumentError('no source files were specified');
      } catch (err) {
        if (err instanceof InvalidArgumentError && err.message.startsWith('invalid from flag value')) throw err;
        const e = new (err instanceof NotFoundError ? NotFoundError : InvalidArgumentError)(`${cmdName} failed: ${(err as Error).message}`);
        throw e;
      }
      if (infos.length > 1 && !dest.endsWith('/')) {
        throw new InvalidArgumentError(`When using ${cmdName} with more than one source file, the destination must be a directory and end with a /`);
      }
      const comment = `${cmdName} ${chown ? `--chown=${chown} ` : ''}${chmodText ? `--chmod=${chmodText} ` : ''}${sourcesHash(infos)} in ${dest} `;
      const cmd = [...this.shell(), `#(nop) ${comment}`];
      const key = this.key(cmd);
      if (await this.probe(key)) return;
      const destPath = normalizeDest(this.runConfig.WorkingDir, dest);
      const result = await this.withLayer(async (layer) => {
        const root = await layer.mount();
        let identity: Identity | undefined = from === '' ? { uid: 0, gid: 0 } : undefined;
        if (chown) identity = parseChown(chown, root);
        try {
          for (const info of infos) await performCopy(root, destPath, info, { decompress: cmdName === 'ADD', identity, ...(chmod !== undefined ? { chmod } : {}) });
        } catch (err) {
          if (err instanceof InvalidArgumentError || err instanceof NotFoundError) throw err;
          throw new InvalidArgumentError(`failed to copy files: ${(err as Error).message}`);
        }
        await layer.unmount();
      });
      await this.advance(key, cmd.join(' '), result);
    } finally {
      for (const v of views) await v.release().catch(() => undefined);
    }
  }

  private async copyInfos(cmdName: string, sources: string[], from: string, views: MountedView[], checksum: string): Promise<CopyInfo[]> {
    let root: CopySource | undefined;
    const infos: CopyInfo[] = [];
    for (const src of sources) {
      if (/^https?:\/\//i.test(src)) {
        if (cmdName === 'COPY') throw new InvalidArgumentError('source can\'t be a URL for COPY');
        const dl = await download(src, this.s.backend.scratchDir(), this.out, this.s.signal, checksum);
        infos.push({ source: dl.source, path: dl.path, hash: `file:${dl.source.hash(dl.path)}`, noDecompress: true });
        continue;
      }
      if (checksum) throw new InvalidArgumentError('checksum can\'t be specified for non-HTTP(S) sources');
      root ??= await this.sourceRoot(from, views, 'from flag');
      infos.push(...copyInfosFor(root, src, { fromImage: from !== '' }));
    }
    return infos;
  }

  /** A COPY/ADD heredoc as a file (mode 0644) in the build's scratch space. */
  private heredocSource(name: string, data: string): CopyInfo {
    const dir = mkdtempSync(path.join(this.s.backend.scratchDir(), 'heredoc-'));
    const base = path.posix.basename(name) || 'heredoc';
    writeFileSync(path.join(dir, base), data, { mode: 0o644 });
    const src = new LazySource(dir);
    return { source: src, path: base, hash: `file:${src.hash(base)}`, noDecompress: true };
  }
}

/** mkdir -p of `dir` inside the filesystem at `root`, new directories 0755 and owned by root. */
async function mkdirRoot(root: string, dir: string): Promise<void> {
  const parts = dir.split('/').filter(Boolean);
  let rel = '';
  for (const p of parts) {
    rel = `${rel}/${p}`;
    const host = resolveInRoot(root, rel);
    let st;
    try {
      st = statSync(host);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) continue;
    if (st) throw new InvalidArgumentError(`Cannot mkdir: ${rel} is not a directory`);
    mkdirSync(host, { mode: 0o755 });
    await fsp.chmod(host, 0o755);
    await fsp.chown(host, 0, 0);
  }
}
