/**
 * Build arguments and their scoping, as the classic builder has them: `--build-arg` values reach a step only
 * once an `ARG` in the current stage declared the name (or it is one of the proxy variables); ARGs before the
 * first FROM (meta args) are visible to FROM lines and give defaults to same-named ARGs inside stages; an
 * `ENV` of the same name shadows the arg. Args used by a RUN are recorded in its history (`|2 A=1 B=2 …`).
 */

/** Proxy variables: allowed without an ARG and left out of history unless declared. */
export const BUILTIN_ARGS = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

export class BuildArgs {
  /** Declared in the current stage (value: the ARG's default). */
  private allowed = new Map<string, string | undefined>();
  /** Declared before the first FROM. */
  private readonly meta: Map<string, string | undefined>;
  /** Every name an ARG declared anywhere (for the "not consumed" warning). */
  readonly referenced: Set<string>;
  /** `--build-arg` values (undefined: `--build-arg NAME` without a value). */
  readonly fromOptions: ReadonlyMap<string, string | undefined>;

  constructor(
    fromOptions: ReadonlyMap<string, string | undefined>, meta = new Map<string, string | undefined>(), referenced = new Set<string>(),
  ) {
    this.fromOptions = fromOptions;
    this.meta = meta;
    this.referenced = referenced;
  }

  /** A copy for a new stage: meta args and references kept, stage declarations cleared. */
  forStage(): BuildArgs {
    return new BuildArgs(this.fromOptions, new Map(this.meta), new Set(this.referenced));
  }

  addArg(key: string, value: string | undefined): void {
    this.allowed.set(key, value);
    this.referenced.add(key);
  }

  addMetaArg(key: string, value: string | undefined): void {
    this.meta.set(key, value);
  }

  mergeReferenced(other: BuildArgs): void {
    for (const k of other.referenced) this.referenced.add(k);
  }

  isReferencedOrNotBuiltin(key: string): boolean {
    return this.allowed.has(key) || !BUILTIN_ARGS.has(key);
  }

  /** The `--build-arg` value, else the declaration's default, else the meta arg's value. */
  private value(key: string, source: Map<string, string | undefined>): string | undefined {
    const opt = this.fromOptions.get(key);
    if (opt !== undefined) return opt;
    return source.get(key) ?? this.meta.get(key);
  }

  private all(source: Map<string, string | undefined>): Map<string, string> {
    const out = new Map<string, string>();
    for (const k of new Set([...source.keys(), ...BUILTIN_ARGS])) {
      const v = this.value(k, source);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }

  /** Args usable by steps of the current stage. */
  allAllowed(): Map<string, string> {
    return this.all(this.allowed);
  }

  /** Args usable by FROM lines. */
  allMeta(): Map<string, string> {
    return this.all(this.meta);
  }

  /** `K=v` for every allowed arg that `env` (the config's environment) does not already define. */
  filterAllowed(env: readonly string[]): string[] {
    const defined = new Set(env.map((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e)));
    const out: string[] = [];
    for (const [k, v] of this.allAllowed()) if (!defined.has(k)) out.push(`${k}=${v}`);
    return out;
  }

  /** `--build-arg` names no ARG declared. */
  unused(): string[] {
    return [...this.fromOptions.keys()].filter((k) => !this.referenced.has(k) && !BUILTIN_ARGS.has(k)).sort();
  }
}
