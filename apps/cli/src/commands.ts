// The command table — berth's manifest: every command id (its file's path under src/commands), its one-line
// summary for listings, and a lazy loader, so starting `berth ps` loads one command module and nothing else.
// Docker's top-level shortcuts (`ps`, `run`, `images`, `rmi`…) are aliases of management-command paths.
import type { CommandClass } from './framework/command.ts';

export interface CommandEntry {
  summary: string;
  load: () => Promise<{ default: CommandClass }>;
  hidden?: boolean;
}

export const COMMANDS: Record<string, CommandEntry> = {
  'builder build': { summary: 'Build an image from a Dockerfile', load: () => import('./commands/image/build.ts') },
  'builder prune': { summary: 'Remove build cache', load: () => import('./commands/builder/prune.ts') },
  'completion': { summary: 'Generate the autocompletion script for the specified shell', load: () => import('./commands/completion.ts') },
  'container attach': { summary: 'Attach local standard input, output, and error streams to a running container', load: () => import('./commands/container/attach.ts') },
  'container commit': { summary: 'Create a new image from a container\'s changes', load: () => import('./commands/container/commit.ts') },
  'container cp': { summary: 'Copy files/folders between a container and the local filesystem', load: () => import('./commands/container/cp.ts') },
  'container create': { summary: 'Create a new container', load: () => import('./commands/container/create.ts') },
  'container diff': { summary: 'Inspect changes to files or directories on a container\'s filesystem', load: () => import('./commands/container/diff.ts') },
  'container exec': { summary: 'Execute a command in a running container', load: () => import('./commands/container/exec.ts') },
  'container export': { summary: 'Export a container\'s filesystem as a tar archive', load: () => import('./commands/container/export.ts') },
  'container inspect': { summary: 'Display detailed information on one or more containers', load: () => import('./commands/container/inspect.ts') },
  'container kill': { summary: 'Kill one or more running containers', load: () => import('./commands/container/kill.ts') },
  'container logs': { summary: 'Fetch the logs of a container', load: () => import('./commands/container/logs.ts') },
  'container ls': { summary: 'List containers', load: () => import('./commands/container/ls.ts') },
  'container pause': { summary: 'Pause all processes within one or more containers', load: () => import('./commands/container/pause.ts') },
  'container port': { summary: 'List port mappings or a specific mapping for the container', load: () => import('./commands/container/port.ts') },
  'container prune': { summary: 'Remove all stopped containers', load: () => import('./commands/container/prune.ts') },
  'container rename': { summary: 'Rename a container', load: () => import('./commands/container/rename.ts') },
  'container restart': { summary: 'Restart one or more containers', load: () => import('./commands/container/restart.ts') },
  'container rm': { summary: 'Remove one or more containers', load: () => import('./commands/container/rm.ts') },
  'container run': { summary: 'Create and run a new container from an image', load: () => import('./commands/container/run.ts') },
  'container start': { summary: 'Start one or more stopped containers', load: () => import('./commands/container/start.ts') },
  'container stats': { summary: 'Display a live stream of container(s) resource usage statistics', load: () => import('./commands/container/stats.ts') },
  'container stop': { summary: 'Stop one or more running containers', load: () => import('./commands/container/stop.ts') },
  'container top': { summary: 'Display the running processes of a container', load: () => import('./commands/container/top.ts') },
  'container unpause': { summary: 'Unpause all processes within one or more containers', load: () => import('./commands/container/unpause.ts') },
  'container update': { summary: 'Update configuration of one or more containers', load: () => import('./commands/container/update.ts') },
  'container wait': { summary: 'Block until one or more containers stop, then print their exit codes', load: () => import('./commands/container/wait.ts') },
  'image build': { summary: 'Build an image from a Dockerfile', load: () => import('./commands/image/build.ts') },
  'image history': { summary: 'Show the history of an image', load: () => import('./commands/image/history.ts') },
  'image import': { summary: 'Import the contents from a tarball to create a filesystem image', load: () => import('./commands/image/import.ts') },
  'image inspect': { summary: 'Display detailed information on one or more images', load: () => import('./commands/image/inspect.ts') },
  'image load': { summary: 'Load an image from a tar archive or STDIN', load: () => import('./commands/image/load.ts') },
  'image ls': { summary: 'List images', load: () => import('./commands/image/ls.ts') },
  'image prune': { summary: 'Remove unused images', load: () => import('./commands/image/prune.ts') },
  'image pull': { summary: 'Download an image from a registry', load: () => import('./commands/image/pull.ts') },
  'image push': { summary: 'Upload an image to a registry', load: () => import('./commands/image/push.ts') },
  'image rm': { summary: 'Remove one or more images', load: () => import('./commands/image/rm.ts') },
  'image save': { summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)', load: () => import('./commands/image/save.ts') },
  'image tag': { summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', load: () => import('./commands/image/tag.ts') },
  'inspect': { summary: 'Return low-level information on berth objects', load: () => import('./commands/inspect.ts') },
  'login': { summary: 'Authenticate to a registry', load: () => import('./commands/login.ts') },
  'logout': { summary: 'Log out from a registry', load: () => import('./commands/logout.ts') },
  'network connect': { summary: 'Connect a container to a network', load: () => import('./commands/network/connect.ts') },
  'network create': { summary: 'Create a network', load: () => import('./commands/network/create.ts') },
  'network disconnect': { summary: 'Disconnect a container from a network', load: () => import('./commands/network/disconnect.ts') },
  'network inspect': { summary: 'Display detailed information on one or more networks', load: () => import('./commands/network/inspect.ts') },
  'network ls': { summary: 'List networks', load: () => import('./commands/network/ls.ts') },
  'network prune': { summary: 'Remove all unused networks', load: () => import('./commands/network/prune.ts') },
  'network rm': { summary: 'Remove one or more networks', load: () => import('./commands/network/rm.ts') },
  'search': { summary: 'Search Docker Hub for images', load: () => import('./commands/search.ts') },
  'system df': { summary: 'Show berth disk usage', load: () => import('./commands/system/df.ts') },
  'system events': { summary: 'Get real time events from the server', load: () => import('./commands/system/events.ts') },
  'system info': { summary: 'Display system-wide information', load: () => import('./commands/system/info.ts') },
  'system prune': { summary: 'Remove unused data', load: () => import('./commands/system/prune.ts') },
  'version': { summary: 'Show the berth version information', load: () => import('./commands/version.ts') },
  'volume create': { summary: 'Create a volume', load: () => import('./commands/volume/create.ts') },
  'volume inspect': { summary: 'Display detailed information on one or more volumes', load: () => import('./commands/volume/inspect.ts') },
  'volume ls': { summary: 'List volumes', load: () => import('./commands/volume/ls.ts') },
  'volume prune': { summary: 'Remove unused local volumes', load: () => import('./commands/volume/prune.ts') },
  'volume rm': { summary: 'Remove one or more volumes', load: () => import('./commands/volume/rm.ts') },
};

/** Management commands: `berth container` alone lists its subcommands. */
export const GROUPS: Record<string, string> = {
  builder: 'Manage builds',
  container: 'Manage containers',
  image: 'Manage images',
  network: 'Manage networks',
  system: 'Manage berth',
  volume: 'Manage volumes',
};

/** Other spellings → canonical id (docker's top-level shortcuts and subcommand aliases). */
export const ALIASES: Record<string, string> = {
  'attach': 'container attach',
  'build': 'image build',
  'commit': 'container commit',
  'container list': 'container ls',
  'container ps': 'container ls',
  'container remove': 'container rm',
  'cp': 'container cp',
  'create': 'container create',
  'diff': 'container diff',
  'events': 'system events',
  'exec': 'container exec',
  'export': 'container export',
  'history': 'image history',
  'image list': 'image ls',
  'image remove': 'image rm',
  'images': 'image ls',
  'import': 'image import',
  'info': 'system info',
  'kill': 'container kill',
  'load': 'image load',
  'logs': 'container logs',
  'network list': 'network ls',
  'network remove': 'network rm',
  'pause': 'container pause',
  'port': 'container port',
  'ps': 'container ls',
  'pull': 'image pull',
  'push': 'image push',
  'rename': 'container rename',
  'restart': 'container restart',
  'rm': 'container rm',
  'rmi': 'image rm',
  'run': 'container run',
  'save': 'image save',
  'start': 'container start',
  'stats': 'container stats',
  'stop': 'container stop',
  'tag': 'image tag',
  'top': 'container top',
  'unpause': 'container unpause',
  'update': 'container update',
  'volume list': 'volume ls',
  'volume remove': 'volume rm',
  'wait': 'container wait',
};

/** The root help's "Common Commands", in docker's order. */
export const COMMON = ['run', 'exec', 'ps', 'build', 'pull', 'push', 'images', 'login', 'logout', 'search', 'version', 'info'];

/** Every spelling that reaches `id`, as full paths for help ("berth container ls, berth ps"). */
export function aliasesOf(id: string): string[] {
  return [id, ...Object.entries(ALIASES).filter(([, to]) => to === id).map(([from]) => from)];
}

/** Resolves the words after the global flags to a command id and the remaining argv. */
export function resolve(words: string[]): { id?: string; group?: string; consumed: number } {
  const [a, b] = words;
  if (a === undefined) return { consumed: 0 };
  if (b !== undefined) {
    const two = `${a} ${b}`;
    if (COMMANDS[two]) return { id: two, consumed: 2 };
    if (ALIASES[two]) return { id: ALIASES[two], consumed: 2 };
  }
  if (COMMANDS[a]) return { id: a, consumed: 1 };
  if (ALIASES[a]) return { id: ALIASES[a], consumed: 1 };
  if (GROUPS[a] !== undefined) return { group: a, consumed: 1 };
  return { consumed: 0 };
}
