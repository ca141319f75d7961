import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from '../../framework/command.ts';
import { Args, Flags } from '../../framework/flags.ts';
import { CliError } from '../../framework/errors.ts';
import { humanSize, ramInBytes } from '../../format/units.ts';
import { contextFromDir, contextFromDockerfile, type BuildContext } from '../../lib/build-context.ts';
import { StreamError, displayProgress } from '../../lib/progress.ts';
import { parseImageRef } from '../../lib/pull.ts';
import { readAll } from '@berth/docker-api';
import { stdout } from '../../context.ts';

export default class ImageBuild extends Command {
  static override usage = '[OPTIONS] PATH | URL | -';
  static override examples = [
    'berth build -t app:1 .',
    'berth build -f docker/Dockerfile.prod --build-arg VERSION=1.2 -t app .',
    'berth build - < Dockerfile',
    'berth build -q --iidfile id.txt .',
  ];

  static override args = [Args.string('path', { required: true })];
  static override flags = {
    'add-host': Flags.strings({ description: 'Add a custom host-to-IP mapping ("host:ip")' }),
    'build-arg': Flags.strings({ description: 'Set build-time variables' }),
    'cache-from': Flags.strings({ description: 'Images to consider as cache sources', helpValue: 'strings' }),
    'cgroup-parent': Flags.string({ description: 'Set the parent cgroup for the "RUN" instructions during build' }),
    'cpu-period': Flags.integer({ description: 'Limit the CPU CFS (Completely Fair Scheduler) period' }),
    'cpu-quota': Flags.integer({ description: 'Limit the CPU CFS (Completely Fair Scheduler) quota' }),
    'cpu-shares': Flags.integer({ char: 'c', description: 'CPU shares (relative weight)' }),
    'cpuset-cpus': Flags.string({ description: 'CPUs in which to allow execution (0-3, 0,1)' }),
    'disable-content-trust': Flags.boolean({ description: 'Skip image verification', default: true }),
    'file': Flags.string({ char: 'f', description: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' }),
    'force-rm': Flags.boolean({ description: 'Always remove intermediate containers' }),
    'iidfile': Flags.string({ description: 'Write the image ID to the file' }),
    'label': Flags.strings({ description: 'Set metadata for an image' }),
    'memory': Flags.string({ char: 'm', description: 'Memory limit', helpValue: 'bytes' }),
    'memory-swap': Flags.string({ description: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap', helpValue: 'bytes' }),
    'network': Flags.string({ description: 'Set the networking mode for the RUN instructions during build', default: 'default' }),
    'no-cache': Flags.boolean({ description: 'Do not use cache when building the image' }),
    'platform': Flags.string({ description: 'Set platform if server is multi-platform capable' }),
    'pull': Flags.boolean({ description: 'Always attempt to pull a newer version of the image' }),
    'quiet': Flags.boolean({ char: 'q', description: 'Suppress the build output and print image ID on success' }),
    'rm': Flags.boolean({ description: 'Remove intermediate containers after a successful build', default: true }),
    'shm-size': Flags.string({ description: 'Size of "/dev/shm"', helpValue: 'bytes' }),
    'tag': Flags.strings({ char: 't', description: 'Name and optionally a tag in the "name:tag" format' }),
    'target': Flags.string({ description: 'Set the target build stage to build.' }),
  };

  async run(): Promise<number> {
    const { flags, args } = await this.parse(ImageBuild);
    const source = args[0]!;
    for (const t of flags.tag) parseImageRef(t);
    let context: BuildContext | undefined;
    let remote: string | undefined;
    let dockerfile = flags.file;
    if (source === '-') {
      if (flags.file === '-') this.error('invalid argument: can\'t use stdin for both build context and dockerfile');
      const input = await readAll(process.stdin);
      if (isTar(input)) {
        const tar = {
          async* stream() {
            yield input;
          },
        };
        context = { tar: tar as unknown as BuildContext['tar'], size: input.length };
      } else {
        context = contextFromDockerfile(input);
        dockerfile = 'Dockerfile';
      }
    } else if (/^(https?:\/\/|git@|git:\/\/|github\.com\/)/.test(source)) {
      remote = source;
    } else {
      if (!existsSync(source) || !statSync(source).isDirectory()) this.error(`unable to prepare context: path "${source}" not found`);
      const dir = path.resolve(source);
      let extra: { name: string; content: Buffer } | undefined;
      if (flags.file === '-') {
        extra = { name: `.dockerfile.${Math.random().toString(16).slice(2, 14)}`, content: await readAll(process.stdin) };
        dockerfile = extra.name;
      } else {
        const df = flags.file ? path.resolve(flags.file) : path.join(dir, 'Dockerfile');
        if (!existsSync(df)) {
          this.error(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${df}: no such file or directory`);
        }
        const rel = path.relative(dir, df);
        if (rel.startsWith('..') || path.isAbsolute(rel)) {
          extra = { name: `.dockerfile.${Math.random().toString(16).slice(2, 14)}`, content: readFileSync(df) };
          dockerfile = extra.name;
        } else {
          dockerfile = rel.split(path.sep).join('/');
        }
      }
      context = contextFromDir(dir, dockerfile ?? 'Dockerfile', extra);
    }
    const kv = (list: string[], fromEnv: boolean) => Object.fromEntries(list.flatMap((a) => {
      const i = a.indexOf('=');
      if (i >= 0) return [[a.slice(0, i), a.slice(i + 1)]];
      if (!fromEnv) return [[a, '']];
      return process.env[a] === undefined ? [] : [[a, process.env[a]!]];
    }));
    const bytes = (v: string | undefined, name: string) => {
      if (v === undefined) return undefined;
      if (v === '-1') return -1;
      try {
        return ramInBytes(v);
      } catch {
        throw new CliError(`invalid argument "${v}" for "--${name}" flag: invalid size: '${v}'`, 125, true);
      }
    };
    const client = await this.ctx.client();
    const cfg = await this.ctx.config();
    // docker's progress writer ends this line with "\r" then "\r\n"
    if (context && !flags.quiet) this.ctx.out(`Sending build context to berth daemon  ${humanSize(context.size, 4)}\r\r\n`);
    this.ctx.flush();
    let imageId = '';
    const body = await client.images.build(context ? context.tar.stream() : '', {
      dockerfile, t: flags.tag, remote, q: flags.quiet, nocache: flags['no-cache'], pull: flags.pull, rm: flags.rm, forcerm: flags['force-rm'],
      buildargs: kv(flags['build-arg'], true), labels: kv(flags.label, false), cachefrom: flags['cache-from'], target: flags.target,
      networkmode: flags.network, platform: flags.platform, extrahosts: flags['add-host'].join(',') || undefined,
      memory: bytes(flags.memory, 'memory'), memswap: bytes(flags['memory-swap'], 'memory-swap'), shmsize: bytes(flags['shm-size'], 'shm-size'),
      cpushares: flags['cpu-shares'], cpusetcpus: flags['cpuset-cpus'], cpuperiod: flags['cpu-period'], cpuquota: flags['cpu-quota'],
      registryConfig: cfg.allAuths(),
    });
    try {
      await displayProgress(body, {
        out: flags.quiet ? ({ write: () => true } as unknown as NodeJS.WritableStream) : stdout(),
        terminal: flags.quiet ? false : undefined,
        onAux: (aux) => {
          const id = (aux as { ID?: string } | null)?.ID;
          if (id) imageId = id;
        },
      });
    } catch (err) {
      if (err instanceof StreamError) throw new CliError(err.message, err.code && err.code > 0 ? err.code : 1);
      throw err;
    }
    if (flags.quiet && imageId) this.log(imageId);
    if (flags.iidfile && imageId) writeFileSync(flags.iidfile, imageId);
    return 0;
  }
}

function isTar(buf: Buffer): boolean {
  return buf.length >= 512 && buf.toString('ascii', 257, 262) === 'ustar';
}
