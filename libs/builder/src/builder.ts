/**
 * A whole build: `--target` and `--label` applied to the parsed Dockerfile, meta ARGs, every stage up to the
 * target started at once (a stage waits only where it needs an earlier one: `FROM stage`, `COPY --from`,
 * `RUN --mount=from=`), output kept in Dockerfile order, then the final image stored and tagged and Docker's
 * closing lines (`Successfully built …`, `Successfully tagged …`). A failure cancels the other stages and
 * everything they had started is cleaned up before the error is reported.
 */
import { InvalidArgumentError } from '@berth/errdefs';
import type { BuildBackend, ImageSource } from './backend.ts';
import { BuildArgs } from './build-args.ts';
import type { BuildContext } from './context.ts';
import { serializeConfig } from './image-config.ts';
import type { Dockerfile, Instruction, Stage } from './instructions.ts';
import { OrderedOutput, type Emit, type JsonMessage, type OutputChannel } from './output.ts';
import { envFromList, ShellLex } from './shell-lex.ts';
import { BuildStepError, shortId, StageRunner, type BuildSession, type StepImage } from './stage.ts';

export interface BuildTag {
  /** The image record name (`docker.io/library/app:latest`). */
  name: string;
  /** How Docker prints it (`app:latest`). */
  display: string;
}

export interface BuildOptions {
  tags: BuildTag[];
  target?: string;
  /** `--build-arg`; undefined values are names given without a value. */
  buildArgs: Map<string, string | undefined>;
  /** `--label`, added as a LABEL step to the last stage. */
  labels: Record<string, string>;
  noCache: boolean;
  pull: boolean;
  quiet: boolean;
  platform?: string;
  /** RUN network mode for the build (`default`, `none`, `host`). */
  network?: string;
}

/** A Dockerfile ready to run: target applied, labels appended. Validation errors are thrown by `planBuild`. */
export interface BuildPlan {
  stages: Stage[];
  metaArgs: Dockerfile['metaArgs'];
  escapeToken: string;
  total: number;
}

/** Applies `--target` and `--label`; throws (before anything is streamed) when the target does not exist. */
export function planBuild(df: Dockerfile, opts: Pick<BuildOptions, 'target' | 'labels'>): BuildPlan {
  let stages = df.stages.map((s) => ({ ...s, commands: [...s.commands] }));
  if (stages.length === 0) throw new InvalidArgumentError('file with no instructions');
  if (opts.target) {
    const i = stages.findIndex((s) => s.name === opts.target!.toLowerCase());
    if (i < 0) throw new InvalidArgumentError(`target stage "${opts.target}" could not be found`);
    stages = stages.slice(0, i + 1);
  }
  const last = stages[stages.length - 1]!;
  for (const k of Object.keys(opts.labels).sort()) {
    const label: Instruction = { kind: 'label', name: 'label', code: `LABEL ${k}=${opts.labels[k]}`, line: 0, labels: [{ key: k, value: opts.labels[k]!, noDelim: false }], noExpand: true };
    last.commands.push(label);
  }
  const names = new Set<string>();
  for (const s of stages) {
    if (s.name && names.has(s.name)) throw new InvalidArgumentError(`${s.name} stage name already used`);
    if (s.name) names.add(s.name);
  }
  let total = df.metaArgs.length + stages.length;
  for (const s of stages) total += s.commands.length;
  return { stages, metaArgs: df.metaArgs, escapeToken: df.escapeToken, total };
}

export interface BuildResult {
  id: string;
}

function isAbort(err: unknown): boolean {
  return (err as Error)?.name === 'AbortError';
}

/** Runs a planned build; messages go to `emit`; resolves with the image id or rejects with the build's error. */
export async function runBuild(
  backend: BuildBackend, context: BuildContext, plan: BuildPlan, opts: BuildOptions, emit: Emit, signal: AbortSignal,
): Promise<BuildResult> {
  const output = new OrderedOutput(emit, opts.quiet);
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });

  const globalArgs = new BuildArgs(opts.buildArgs);
  const head = output.channel();
  let step = 1;
  const lex = new ShellLex(plan.escapeToken);
  for (const meta of plan.metaArgs) {
    head.stream(`Step ${step++}/${plan.total} : ${meta.code}\n`);
    const env = envFromList([...globalArgs.allAllowed()].map(([k, v]) => `${k}=${v}`));
    for (const a of meta.args) {
      const key = lex.processWord(a.key, env);
      const value = a.value === undefined ? undefined : lex.processWord(a.value, env);
      globalArgs.addArg(key, value);
      globalArgs.addMetaArg(key, value);
    }
  }
  head.close();

  const results: Promise<StepImage>[] = [];
  const runners: StageRunner[] = [];
  const images = new Map<string, Promise<ImageSource>>();
  const session: BuildSession = {
    backend, context, escapeToken: plan.escapeToken, noCache: opts.noCache, pull: opts.pull,
    ...(opts.platform ? { platform: opts.platform } : {}), network: opts.network || 'default', signal: controller.signal,
    stage(ref, before, byIndex) {
      if (byIndex) {
        const i = Number(ref);
        if (i === before) throw new InvalidArgumentError('refers to current build stage');
        if (i < 0 || i > before) throw new InvalidArgumentError('index out of bounds');
        return results[i];
      }
      const i = plan.stages.findIndex((s, idx) => idx < before && s.name !== '' && s.name === ref.toLowerCase());
      return i < 0 ? undefined : results[i];
    },
    image(ref, channel: OutputChannel) {
      // Each reference is resolved once per build; later users wait for the same lookup (and pull).
      let p = images.get(ref);
      if (!p) {
        p = backend.getImage(ref, {
          pull: opts.pull, ...(opts.platform ? { platform: opts.platform } : {}),
          progress: (m) => channel.progress(m), signal: controller.signal,
        });
        images.set(ref, p);
      }
      return p;
    },
  };

  let failure: unknown;
  plan.stages.forEach((stage, i) => {
    const channel = output.channel();
    const runner = new StageRunner(session, i, stage, step, plan.total, globalArgs.forStage(), channel);
    step += 1 + stage.commands.length;
    runners.push(runner);
    const p = runner.run().finally(() => channel.close());
    p.catch((err: unknown) => {
      if (failure === undefined && !isAbort(err)) failure = err;
      if (!controller.signal.aborted) controller.abort(err);
    });
    results.push(p);
  });

  try {
    const settled = await Promise.allSettled(results);
    if (failure === undefined) {
      const rejected = settled.find((r) => r.status === 'rejected');
      if (rejected) failure = (rejected as PromiseRejectedResult).reason;
    }
    if (failure !== undefined) {
      output.flush();
      throw failure;
    }
    for (const r of runners) globalArgs.mergeReferenced(r.buildArgs);
    const final = (settled[settled.length - 1] as PromiseFulfilledResult<StepImage>).value;
    if (final.id === '') throw new InvalidArgumentError('No image was generated. Is your Dockerfile empty?');
    const names = opts.tags.map((t) => t.name);
    const serialized = serializeConfig(final.config);
    // A stage that changed nothing ends on its base image, which exists already (with its own config bytes).
    if (serialized.id === final.id) await backend.writeImage(serialized, final.layers, names, controller.signal);
    else await backend.tagImage(final.id, names, controller.signal);
    output.direct({ aux: { ID: final.id } });
    const unused = globalArgs.unused();
    if (unused.length > 0) output.direct({ stream: `[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n` });
    if (opts.quiet) {
      output.direct({ stream: `${final.id}\n` }, true);
    } else {
      output.direct({ stream: `Successfully built ${shortId(final.id)}\n` });
      for (const t of opts.tags) output.direct({ stream: `Successfully tagged ${t.display}\n` });
    }
    return { id: final.id };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Docker's error message for the stream: `{"errorDetail":{"code":3,"message":…},"error":…}`. */
export function errorMessage(err: unknown): JsonMessage {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof BuildStepError) return { errorDetail: { code: err.code, message }, error: message };
  return { errorDetail: { message }, error: message };
}
