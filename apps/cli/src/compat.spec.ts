// berth and the real docker CLI v28, side by side against the same private dockerd: the everyday workflow
// as a scripted list. Every case must give the same exit code; deterministic output must match after
// normalizing ids and times. Objects each CLI creates carry its name (`w-docker`, `w-berth`), so the two
// runs never see each other's state.
import { startDockerd, startRegistry, tempDir, run, type PrivateDockerd, type PrivateRegistry } from '@berth/testing';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, DOCKER, buildBerth, normalize, normalizeErr, runBerth, runDocker } from './test-support/berth.ts';
import { startBerthd, type PrivateBerthd } from './test-support/berthd.ts';

interface Case {
  name: string;
  /** Arguments; `{cli}` becomes `docker` or `berth` so each works on its own objects. */
  args: string[];
  /** Commands run first (with the same CLI), output ignored. */
  setup?: string[][];
  /** Compare stdout (default true), stderr (default false). */
  stdout?: boolean;
  stderr?: boolean;
  input?: string;
  /** Run through `sh -c` with `CLI` replaced by the program (for pipes). */
  shell?: string;
  /** Extra normalization for this case. */
  norm?: (s: string) => string;
  /** A table with time columns: their widths vary with the times, so compare cells, not padding. */
  columns?: boolean;
  /** The daemon may list in any order (berthd does): compare the lines as a set. */
  sortLines?: boolean;
}

interface Target {
  daemon: 'dockerd' | 'berthd';
  host: string;
  dir: string;
  env: Record<'docker' | 'berth', NodeJS.ProcessEnv>;
  stop(): Promise<void>;
}

let registry: PrivateRegistry;
let tmp: { path: string } & Disposable;

before(async () => {
  buildBerth();
  tmp = tempDir('berth-cli-compat-');
  mkdirSync(path.join(tmp.path, 'auth'), { recursive: true });
  // htpasswd with bcrypt for user "berth", password "s3cret" (docker-registry only accepts bcrypt)
  const hash = execFileSync('python3', ['-c', 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))'], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(tmp.path, 'auth/htpasswd'), `berth:${hash}\n`);
  registry = await startRegistry(path.join(tmp.path, 'registry'), { htpasswd: path.join(tmp.path, 'auth/htpasswd') });
});

after(async () => {
  await registry?.stop();
  tmp?.[Symbol.dispose]();
});

/** Starts the daemon, prepares each CLI's home and the files the cases use. */
async function setUp(daemon: 'dockerd' | 'berthd'): Promise<Target> {
  const dir = path.join(tmp.path, daemon);
  mkdirSync(dir, { recursive: true });
  let host: string;
  let stopDaemon: () => Promise<void>;
  if (daemon === 'dockerd') {
    const d: PrivateDockerd = await startDockerd(path.join(dir, 'daemon'));
    host = d.host;
    stopDaemon = () => d.stop();
  } else {
    const b: PrivateBerthd = await startBerthd(path.join(dir, 'daemon'));
    host = b.host;
    stopDaemon = () => b.stop();
  }
  const env = { docker: {}, berth: {} } as Target['env'];
  for (const who of ['docker', 'berth'] as const) {
    const home = path.join(dir, `home-${who}`);
    mkdirSync(home, { recursive: true });
    env[who] = {
      PATH: process.env.PATH, HOME: home, DOCKER_HOST: host, DOCKER_CONFIG: path.join(home, '.docker'),
      BERTH_CONFIG: path.join(home, '.berth'), TZ: 'UTC',
    };
  }
  // both start from the same image set
  const pull = await runDocker(['pull', '-q', 'busybox'], env.docker);
  assert.equal(pull.code, 0, pull.stderr);
  const ctx = path.join(dir, 'ctx');
  mkdirSync(path.join(ctx, 'sub'), { recursive: true });
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx/\nRUN ls /ctx > /listing\nCMD ["cat", "/listing"]\n');
  writeFileSync(path.join(ctx, 'keep.txt'), 'keep\n');
  writeFileSync(path.join(ctx, 'drop.log'), 'drop\n');
  writeFileSync(path.join(ctx, 'sub/inner.txt'), 'inner\n');
  writeFileSync(path.join(ctx, '.dockerignore'), '*.log\n');
  writeFileSync(path.join(dir, 'local.txt'), 'from the host\n');
  const stop = async () => {
    // containers first, so the daemon stops without waiting on them
    const ids = (await runDocker(['ps', '-aq'], env.docker)).stdout.split('\n').filter(Boolean);
    if (ids.length) await runDocker(['rm', '-f', ...ids], env.docker);
    await stopDaemon();
  };
  return { daemon, host, dir, env, stop };
}

async function runAs(t: Target, who: 'docker' | 'berth', c: Case): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { dir, env } = t;
  const tag = who === 'docker' ? 'dockr' : 'berth';
  const sub = (a: string) => a.replaceAll('{cli}', tag).replaceAll('{dir}', dir).replaceAll('{registry}', registry.addr).replaceAll('{daemon}', t.daemon);
  const exec = who === 'docker' ? runDocker : runBerth;
  for (const s of c.setup ?? []) await exec(s.map(sub), env[who]);
  if (c.shell) {
    const prog = who === 'docker' ? DOCKER : `${process.execPath} ${BERTH}`;
    return run('sh', ['-c', sub(c.shell).replaceAll('CLI', prog)], { env: env[who] });
  }
  return exec(c.args.map(sub), env[who], c.input);
}

type Outcome = { code: number | null; stdout: string; stderr: string };

function compare(c: Case, d: Outcome, b: Outcome): void {
  const cells = (s: string) => (c.columns ? s.replace(/ {2,}/g, ' | ') : s);
  const sorted = (s: string) => (c.sortLines ? s.split('\n').sort().join('\n') : s);
  const n = (s: string) => sorted(cells(c.norm ? c.norm(normalize(s)) : normalize(s)));
  const detail = `\n--- docker (${d.code})\n${d.stdout}${d.stderr}\n--- berth (${b.code})\n${b.stdout}${b.stderr}`;
  assert.equal(b.code, d.code, `exit code of ${c.name}${detail}`);
  if (c.stdout !== false) assert.equal(n(b.stdout), n(d.stdout), `stdout of ${c.name}${detail}`);
  if (c.stderr) assert.equal(normalizeErr(b.stderr).trim(), normalizeErr(d.stderr).trim(), `stderr of ${c.name}${detail}`);
}

const CASES: Case[] = [
  // images
  { name: 'pull', args: ['pull', 'busybox'] },
  { name: 'pull quiet', args: ['pull', '-q', 'busybox:latest'] },
  { name: 'images', args: ['images'] },
  { name: 'images -q', args: ['images', '-q'] },
  { name: 'images by repo', args: ['images', 'busybox'] },
  { name: 'images json', args: ['images', '--format', 'json'] },
  { name: 'images template', args: ['images', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}'] },
  { name: 'image ls --digests', args: ['image', 'ls', '--digests'] },
  { name: 'image inspect', args: ['image', 'inspect', 'busybox'] },
  { name: 'image inspect format', args: ['image', 'inspect', '-f', '{{.Config.Cmd}} {{json .RootFS.Layers}} {{.Os}}/{{.Architecture}}', 'busybox'] },
  { name: 'inspect --type image', args: ['inspect', '--type', 'image', '--format', '{{index .RepoTags 0}}', 'busybox'] },
  { name: 'history', args: ['history', 'busybox'] },
  { name: 'history no-trunc', args: ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'busybox'] },
  { name: 'tag', args: ['tag', 'busybox', 'tagged-{cli}:v1'] },
  { name: 'images after tag', args: ['images', '--format', '{{.Repository}} {{.Tag}}', 'tagged-{cli}'], sortLines: true },
  { name: 'rmi tag', args: ['rmi', 'tagged-{cli}:v1'] },
  { name: 'rmi missing', args: ['rmi', 'nosuchimage:nosuch'], stderr: true },
  // run
  { name: 'run echo', args: ['run', '--rm', 'busybox', 'echo', 'hello', 'world'] },
  { name: 'run exit code', args: ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3'], stderr: true },
  { name: 'run env', args: ['run', '--rm', '-e', 'A=1', '--env', 'B=two', 'busybox', 'sh', '-c', 'echo $A $B'] },
  { name: 'run workdir user', args: ['run', '--rm', '-w', '/tmp', '-u', '1000:1000', 'busybox', 'sh', '-c', 'pwd; id'] },
  { name: 'run combined short flags', args: ['run', '--rm', '-i', 'busybox', 'cat'], input: 'piped stdin\n' },
  { name: 'run hostname label', args: ['run', '--rm', '-h', 'myhost', '-l', 'k=v', 'busybox', 'hostname'] },
  { name: 'run entrypoint', args: ['run', '--rm', '--entrypoint', 'echo', 'busybox', 'via', 'entrypoint'] },
  { name: 'run cmd not found', args: ['run', '--rm', 'busybox', 'nosuchcmd'], stderr: true },
  { name: 'run cmd not invokable', args: ['run', '--rm', 'busybox', '/etc'], stderr: true },
  { name: 'run no args', args: ['run'], stderr: true },
  { name: 'run bad flag', args: ['run', '--rm', '--nosuchflag', 'busybox'], stderr: true },
  { name: 'run bad port', args: ['run', '--rm', '-p', 'abc', 'busybox'], stderr: true },
  { name: 'run rm+restart', args: ['run', '--rm', '--restart', 'always', 'busybox'], stderr: true },
  { name: 'run pull never', args: ['run', '--rm', '--pull', 'never', 'busybox:nosuch', 'true'], stderr: true },
  { name: 'run -d', args: ['run', '-d', '--name', 'w-{cli}', '-l', 'role=web', 'busybox', 'sleep', '600'] },
  { name: 'ps', args: ['ps', '--filter', 'name=w-{cli}'], columns: true },
  { name: 'ps format', args: ['ps', '-a', '--filter', 'name=w-{cli}', '--format', '{{.Names}} {{.Image}} {{.Command}} {{.State}} {{.Label "role"}} {{.Labels}}'] },
  { name: 'ps json', args: ['ps', '--filter', 'name=w-{cli}', '--format', 'json'] },
  { name: 'ps table custom', args: ['ps', '--filter', 'name=w-{cli}', '--format', 'table {{.Names}}\\t{{.Status}}\\t{{.Networks}}'], columns: true },
  { name: 'ps -q no-trunc', args: ['ps', '-q', '--no-trunc', '--filter', 'name=w-{cli}'] },
  { name: 'container ls alias', args: ['container', 'ls', '--filter', 'label=role=web', '--format', '{{.Names}}'] },
  { name: 'ps -n', args: ['ps', '-n', '1', '--format', '{{.Names}}'], stdout: false },
  { name: 'inspect format', args: ['inspect', '-f', '{{.State.Status}} {{.Config.Image}} {{json .Config.Cmd}} {{.HostConfig.NetworkMode}}', 'w-{cli}'] },
  { name: 'container inspect', args: ['container', 'inspect', 'w-{cli}'], norm: (s) => s.replace(/"(Pid|SandboxKey|Hostname|HostnamePath|HostsPath|ResolvConfPath|LogPath|Name|MergedDir|UpperDir|WorkDir|LowerDir)": [^\n]*/g, '"$1": ~') },
  { name: 'inspect range index', args: ['inspect', '-f', '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}{{index .Config.Cmd 0}} {{len .Config.Cmd}}', 'w-{cli}'] },
  { name: 'exec', args: ['exec', 'w-{cli}', 'echo', 'from', 'exec'] },
  { name: 'exec exit code', args: ['exec', 'w-{cli}', 'sh', '-c', 'exit 5'] },
  { name: 'exec env workdir', args: ['exec', '-e', 'X=1', '-w', '/tmp', 'w-{cli}', 'sh', '-c', 'echo $X; pwd'] },
  { name: 'exec stdin', args: ['exec', '-i', 'w-{cli}', 'cat'], input: 'to exec\n' },
  { name: 'exec not found', args: ['exec', 'w-{cli}', 'nosuchcmd'], stdout: false },
  { name: 'top', args: ['top', 'w-{cli}'], norm: (s) => s.split('\n')[0]! },
  { name: 'port none', args: ['port', 'w-{cli}'] },
  { name: 'stats no-stream', args: ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'w-{cli}'] },
  { name: 'pause', args: ['pause', 'w-{cli}'] },
  { name: 'ps paused', args: ['ps', '--filter', 'name=w-{cli}', '--format', '{{.Status}}'] },
  { name: 'unpause', args: ['unpause', 'w-{cli}'] },
  { name: 'update', args: ['update', '--memory', '64m', '--memory-swap', '128m', 'w-{cli}'] },
  { name: 'inspect memory', args: ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}', 'w-{cli}'] },
  { name: 'cp to container', args: ['cp', '{dir}/local.txt', 'w-{cli}:/tmp/'] },
  { name: 'cp from container', args: ['cp', 'w-{cli}:/tmp/local.txt', '{dir}/back-{cli}.txt'], norm: (s) => s },
  { name: 'cp result', shell: 'cat {dir}/back-{cli}.txt', args: [] },
  { name: 'cp dir', args: ['cp', 'w-{cli}:/etc', '{dir}/etc-{cli}'] },
  { name: 'cp dir result', shell: 'ls {dir}/etc-{cli} | sort', args: [] },
  { name: 'cp to stdout', shell: 'CLI cp w-{cli}:/etc/hostname - | tar t', args: [] },
  { name: 'cp missing', args: ['cp', 'w-{cli}:/nope', '{dir}/'], stderr: true },
  { name: 'diff', args: ['diff', 'w-{cli}'] },
  { name: 'rename', args: ['rename', 'w-{cli}', 'w2-{cli}'] },
  { name: 'rm running', args: ['rm', 'w2-{cli}'], stdout: false },
  { name: 'stop', args: ['stop', '-t', '1', 'w2-{cli}'] },
  { name: 'wait stopped', args: ['wait', 'w2-{cli}'] },
  { name: 'start', args: ['start', 'w2-{cli}'] },
  { name: 'restart', args: ['restart', '-t', '1', 'w2-{cli}'] },
  { name: 'kill', args: ['kill', '-s', 'KILL', 'w2-{cli}'] },
  { name: 'wait killed', args: ['wait', 'w2-{cli}'] },
  { name: 'ps exited', args: ['ps', '-a', '--filter', 'name=w2-{cli}', '--format', '{{.State}} {{.Status}}'] },
  // each container's changes differ (a file named after the CLI), so the two commits are distinct images
  {
    name: 'commit', setup: [['cp', '{dir}/local.txt', 'w2-{cli}:/tmp/{cli}.txt']],
    args: ['commit', '-c', 'CMD ["cat", "/tmp/local.txt"]', 'w2-{cli}', 'committed-{cli}:1'],
  },
  { name: 'run committed', args: ['run', '--rm', 'committed-{cli}:1'] },
  { name: 'export', shell: 'CLI export w2-{cli} | tar t | grep -c .', args: [], norm: (s) => (Number(s) > 100 ? 'many\n' : s) },
  { name: 'rm', args: ['rm', 'w2-{cli}'] },
  { name: 'rmi committed', args: ['rmi', 'committed-{cli}:1'], norm: (s) => s.split('\n')[0]! },
  { name: 'logs', setup: [['run', '--name', 'l-{cli}', 'busybox', 'sh', '-c', 'echo one; echo two; echo three']], args: ['logs', 'l-{cli}'] },
  { name: 'logs tail', args: ['logs', '--tail', '2', 'l-{cli}'] },
  { name: 'logs -n1 -t', args: ['logs', '-n', '1', '-t', 'l-{cli}'] },
  { name: 'create/start -a', setup: [['create', '--name', 'c-{cli}', 'busybox', 'sh', '-c', 'echo attached; exit 7']], args: ['start', '-a', 'c-{cli}'] },
  { name: 'rm -f multiple', args: ['rm', '-f', 'l-{cli}', 'c-{cli}', 'nosuch-{cli}'], stderr: true },
  // errors
  { name: 'rm missing', args: ['rm', 'nosuch'], stderr: true },
  { name: 'stop missing', args: ['stop', 'nosuch'], stderr: true },
  { name: 'start missing', args: ['start', 'nosuch'], stderr: true },
  { name: 'inspect missing', args: ['inspect', 'nosuch'], stderr: true },
  { name: 'logs missing', args: ['logs', 'nosuch'], stderr: true },
  { name: 'rename missing', args: ['rename', 'nosuch', 'x'], stderr: true },
  { name: 'unknown flag', args: ['ps', '--nosuch'], stderr: true },
  { name: 'unknown shorthand', args: ['ps', '-z'], stderr: true },
  { name: 'bad int', args: ['ps', '-n', 'abc'], stderr: true },
  { name: 'no args allowed', args: ['ps', 'extra'], stderr: true },
  { name: 'args required', args: ['rm'], stderr: true },
  { name: 'unknown command', args: ['nosuchcommand'] },
  { name: 'bad template', args: ['ps', '--format', '{{.NoSuchField}}'], stdout: false },
  // networks and volumes
  { name: 'network create', args: ['network', 'create', 'n-{cli}'] },
  { name: 'network ls', args: ['network', 'ls', '--filter', 'name=n-{cli}', '--format', '{{.Name}} {{.Driver}} {{.Scope}}'] },
  { name: 'network inspect', args: ['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Internal}}', 'n-{cli}'] },
  { name: 'network rm', args: ['network', 'rm', 'n-{cli}'] },
  { name: 'network inspect missing', args: ['network', 'inspect', 'n-{cli}'], stderr: true },
  { name: 'volume create', args: ['volume', 'create', '--label', 'a=b', 'v-{cli}'] },
  { name: 'volume ls', args: ['volume', 'ls', '--filter', 'name=v-{cli}'] },
  { name: 'volume inspect', args: ['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Labels}}', 'v-{cli}'] },
  { name: 'run with volume', args: ['run', '--rm', '-v', 'v-{cli}:/data', 'busybox', 'sh', '-c', 'echo hi > /data/f; cat /data/f'] },
  { name: 'volume rm', args: ['volume', 'rm', 'v-{cli}'] },
  { name: 'volume rm missing', args: ['volume', 'rm', 'v-{cli}'], stderr: true },
  // build, save, load
  { name: 'build -q', args: ['build', '-q', '-t', 'built-{cli}', '{dir}/ctx'], stdout: false },
  { name: 'run built (dockerignore)', args: ['run', '--rm', 'built-{cli}'] },
  { name: 'build output', args: ['build', '-t', 'built2-{cli}', '{dir}/ctx'], norm: (s) => s.replace(/(Docker|berth) daemon/, 'DAEMON') },
  { name: 'build failing', shell: 'printf "FROM busybox\\nRUN exit 3\\n" | CLI build -q -', args: [], stdout: false },
  { name: 'save/load', shell: 'CLI save -o {dir}/img-{cli}.tar busybox && CLI load -i {dir}/img-{cli}.tar', args: [] },
  { name: 'system df', args: ['system', 'df', '--format', '{{.Type}} {{.TotalCount}}'], stdout: false },
  // registry
  { name: 'login', args: ['login', '-u', 'berth', '--password-stdin', '{registry}'], input: 's3cret\n' },
  { name: 'login wrong password', args: ['login', '-u', 'berth', '--password-stdin', '{registry}'], input: 'wrong\n', stdout: false },
  { name: 'push', setup: [['login', '-u', 'berth', '-p', 's3cret', '{registry}'], ['tag', 'busybox', '{registry}/{cli}-{daemon}/busybox:1']],
    args: ['push', '{registry}/{cli}-{daemon}/busybox:1'],
    norm: (s) => s.replace(/127\.0\.0\.1:\d+/g, 'REG').replace(/\/(dockr|berth)-\w+\//g, '/X/').replace(/: (Mounted from \S+|Layer already exists)/g, ': Pushed') },
  { name: 'logout', args: ['logout', '{registry}'], norm: (s) => s.replace(/127\.0\.0\.1:\d+/g, 'REG') },
  { name: 'version format', args: ['version', '--format', '{{.Server.Version}} {{.Server.Os}}'] },
  { name: 'info format', args: ['info', '--format', '{{.ServerVersion}} {{.Driver}} {{.OSType}}'] },
];

for (const daemon of ['dockerd', 'berthd'] as const) {
  describe(`berth and docker give the same results (${daemon})`, () => {
    let t: Target;
    before(async () => {
      t = await setUp(daemon);
    });
    after(async () => {
      await t?.stop();
    });
    for (const c of CASES) {
      test(c.name, async () => {
        const d = await runAs(t, 'docker', c);
        const b = await runAs(t, 'berth', c);
        compare(c, d, b);
      });
    }
    test('push reached the registry for both', async () => {
      for (const who of ['dockr', 'berth']) {
        const res = await fetch(`http://${registry.addr}/v2/${who}-${daemon}/busybox/tags/list`, {
          headers: { Authorization: `Basic ${Buffer.from('berth:s3cret').toString('base64')}` },
        });
        assert.equal(res.status, 200);
        assert.deepEqual(((await res.json()) as { tags: string[] }).tags, ['1']);
      }
    });
    test('berth\'s config file is docker-compatible and berth never writes docker\'s', () => {
      const file = path.join(t.dir, 'home-berth/.berth/config.json');
      assert.ok(existsSync(file));
      const cfg = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, unknown> };
      assert.deepEqual(Object.keys(cfg.auths), []);
      assert.equal(existsSync(path.join(t.dir, 'home-berth/.docker/config.json')), false);
    });
  });
}
