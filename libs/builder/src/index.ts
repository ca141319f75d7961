// Public API of @berth/builder: the Dockerfile front end (parser, substitution, instructions, .dockerignore)
// and the build engine over the BuildBackend seam. Exports only through this file.
export { ShellLex, envFromList, EMPTY_ENV, shellPatternToRegExp, type EnvGetter, type LexOptions, type ProcessResult } from './shell-lex.ts';
export {
  parseDockerfile, parseHeredoc, parseWords, chompHeredocContent, DockerfileSyntaxError, type Heredoc, type Node, type ParseResult,
} from './parser.ts';
export {
  parseDockerfileInstructions, instructionsFrom, parseInstruction, parseSingleInstruction, parseDuration, InstructionError,
  INSTRUCTION_NAMES, type Dockerfile, type Instruction, type Stage, type KeyValue, type SourcesAndDest, type SourceContent,
  type ShellDependent, type HealthConfig,
} from './instructions.ts';
export { parseRunMount, csvFields, type RunMount, type RunMountType } from './run-mount.ts';
export { suggest, levenshtein, withSuggestion } from './suggest.ts';
export { PatternMatcher, parseDockerignore, cleanPath } from './dockerignore.ts';
export { BuildArgs, BUILTIN_ARGS } from './build-args.ts';
export type {
  BuildBackend, WorkLayer, MountedView, ImageSource, LayerDescriptor, CachedStep, RunRequest, RunMountSpec, ProgressMessage,
  GetImageOptions,
} from './backend.ts';
export { BuildContext, LazySource, dirSum, type CopySource } from './context.ts';
export { planBuild, runBuild, errorMessage, type BuildOptions, type BuildPlan, type BuildTag, type BuildResult } from './builder.ts';
export { BuildStepError, normalizeWorkdir, exposedPorts, shortId, type StepImage } from './stage.ts';
export { OrderedOutput, type JsonMessage, type Emit, type OutputChannel } from './output.ts';
export { resolveInRoot } from './scoped-path.ts';
export { fileSum, entryHash, hashStrings } from './tarsum.ts';
export { copyInfosFor, performCopy, goMatch, normalizeDest, sourcesHash, archiveCompression, type CopyInfo, type Identity } from './copy.ts';
export { parseChown } from './chown.ts';
export {
  runConfigOf, runConfigJson, serializeConfig, goTime, goQuoteList, goDuration, healthText, DEFAULT_PATH, type RunConfig,
} from './image-config.ts';
