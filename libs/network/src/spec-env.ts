// Test support for the integration specs (not exported): a network manager on private roots, bridge names,
// chain prefix and subnet; "containers" as processes in its namespaces; and a sweep that removes whatever a
// failed test left behind (and reports it, so tests can assert there was nothing).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import dgram from 'node:dgram';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run, stopProcess, testSubnet, uniqueSuffix, type RunResult } from '@berth/testing';
import { buildResponse, parseQuestion, RCODE_NOERROR, TYPE_A } from './dns-message.ts';
import { NetworkManager, type NetworkManagerOptions } from './network-manager.ts';
import type { SandboxSpec } from './types.ts';

export interface Env {
  id: string;
  /** `bt<id>`: every bridge, dummy and veth a test names itself starts with it. */
  tag: string;
  root: string;
  execRoot: string;
  prefix: string;
  bridge: string;
  subnet: ReturnType<typeof testSubnet>;
  /** The fake upstream resolver's address (answers every A query with 192.0.2.77). */
  upstream: string;
  resolvConf: string;
  opts(extra?: Partial<NetworkManagerOptions>): NetworkManagerOptions;
  open(extra?: Partial<NetworkManagerOptions>): Promise<NetworkManager>;
  /** Removes everything of this env from the kernel; returns what it found (empty after a clean test). */
  sweep(): Promise<string[]>;
  close(): Promise<void>;
}

export async function makeEnv(): Promise<Env> {
  const id = uniqueSuffix(3);
  const tag = `bt${id}`;
  const base = path.join(tmpdir(), `berth-net-${id}`);
  const root = path.join(base, 'data');
  // Short: namespace paths appear in commands, and sockets may live here.
  const execRoot = `/run/berth-net-${id}`;
  mkdirSync(root, { recursive: true });
  mkdirSync(execRoot, { recursive: true });
  const subnet = testSubnet();
  const upstream = `127.${(parseInt(id.slice(0, 2), 16) % 200) + 20}.${parseInt(id.slice(2, 4), 16)}.${(parseInt(id.slice(4, 6), 16) % 250) + 2}`;
  const resolvConf = path.join(base, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver ${upstream}\nsearch example.test\n`);
  const fake = dgram.createSocket('udp4');
  fake.on('message', (msg, rinfo) => {
    const q = parseQuestion(msg);
    if (!q) return;
    const answers = q.type === TYPE_A ? [{ type: TYPE_A, ttl: 60, data: '192.0.2.77' }] : [];
    fake.send(buildResponse(msg, q, RCODE_NOERROR, answers), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => fake.bind(53, upstream, () => resolve()));
  const prefix = `BT-${id}`;
  const bridge = `${tag}d`;
  const opts = (extra: Partial<NetworkManagerOptions> = {}): NetworkManagerOptions => ({
    root, execRoot, chainPrefix: prefix, resolvConfPath: resolvConf,
    defaultBridge: { name: bridge, bip: `${subnet.gateway}/24` },
    // Pools for networks created without a subnet: a random /16 of 10.128–10.191, in /24s.
    defaultAddressPools: [{ base: `10.${128 + (parseInt(id.slice(0, 2), 16) % 64)}.0.0/16`, size: 24 }],
    ...extra,
  });
  const managers: NetworkManager[] = [];
  const env: Env = {
    id, tag, root, execRoot, prefix, bridge, subnet, upstream, resolvConf, opts,
    async open(extra) {
      const m = await NetworkManager.open(opts(extra));
      managers.push(m);
      return m;
    },
    sweep: () => sweep(tag, prefix, execRoot),
    async close() {
      // Every step runs whatever the previous ones did, so a failed test still leaves nothing behind.
      for (const m of managers) await m.close({ purge: true }).catch(() => {});
      try {
        fake.close();
      } catch { /* closed */ }
      await sweep(tag, prefix, execRoot).catch(() => {});
      rmSync(base, { recursive: true, force: true });
      rmSync(execRoot, { recursive: true, force: true });
    },
  };
  return env;
}

async function sweep(tag: string, prefix: string, execRoot: string): Promise<string[]> {
  const found: string[] = [];
  const links = JSON.parse((await run('ip', ['-j', 'link', 'show'])).stdout || '[]') as { ifname: string; master?: string }[];
  const ours = links.filter((l) => l.ifname.startsWith(tag) || l.master?.startsWith(tag));
  for (const l of ours) {
    found.push(`link ${l.ifname}`);
    await run('ip', ['link', 'del', l.ifname]);
  }
  for (const table of ['filter', 'nat']) {
    const saved = (await run('iptables-save', ['-t', table])).stdout.split('\n');
    const rules = saved.filter((l) => l.startsWith('-A ') && l.includes(prefix));
    const chains = saved.filter((l) => l.startsWith(`:${prefix}`)).map((l) => l.slice(1).split(' ')[0]!);
    for (const r of rules) found.push(`${table} ${r}`);
    for (const r of rules.filter((x) => !x.startsWith(`-A ${prefix}`))) await run('iptables', ['-w', '-t', table, ...splitRule(r.replace(/^-A /, '-D '))]);
    for (const c of chains) await run('iptables', ['-w', '-t', table, '-F', c]);
    for (const c of chains) {
      found.push(`${table} chain ${c}`);
      await run('iptables', ['-w', '-t', table, '-X', c]);
    }
  }
  const nsDir = path.join(execRoot, 'netns');
  let files: string[] = [];
  try {
    files = readdirSync(nsDir);
  } catch { /* none */ }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const f of files) {
    const p = path.join(nsDir, f);
    found.push(`netns ${p}`);
    if (mounts.includes(` ${p} `)) await run('umount', ['--lazy', p]);
    rmSync(p, { force: true });
  }
  return found;
}

function splitRule(rule: string): string[] {
  // iptables-save quotes only comments, which berth does not use.
  return rule.split(' ');
}

/** A sandbox request for a new "container" `name` with a fresh id and its files directory under the env's root. */
export function sandboxSpec(env: Env, name: string, networkMode: string, extra: Partial<SandboxSpec> = {}): SandboxSpec {
  const containerId = `${uniqueSuffix(16)}${uniqueSuffix(16)}`;
  const filesDir = path.join(env.root, 'containers', containerId);
  mkdirSync(filesDir, { recursive: true });
  return { containerId, containerName: name, hostname: containerId.slice(0, 12), networkMode, filesDir, ...extra };
}

/** Runs a command inside a namespace (host filesystem). */
export function inNetns(netns: string, cmd: string[], timeoutMs = 10_000): Promise<RunResult> {
  return run('timeout', [String(timeoutMs / 1000), 'nsenter', `--net=${netns}`, ...cmd]);
}

/**
 * Runs a command as a container would see names: in the namespace, with the sandbox's hosts and resolv.conf
 * bind-mounted over the host's in a private mount namespace.
 */
export function inContainer(
  netns: string, files: { hostsPath: string; resolvConfPath: string }, script: string, timeoutMs = 10_000,
): Promise<RunResult> {
  const inner = `mount --bind ${files.hostsPath} /etc/hosts && mount --bind ${files.resolvConfPath} /etc/resolv.conf && ${script}`;
  return run('timeout', [String(timeoutMs / 1000), 'nsenter', `--net=${netns}`, 'unshare', '-m', 'sh', '-c', inner]);
}

/** A busybox httpd serving `body` on port 80 inside a namespace; stop it with stopProcess. */
export async function httpd(netns: string, body: string, port = 80): Promise<ChildProcess & { dir: string }> {
  const dir = path.join(tmpdir(), `berth-www-${uniqueSuffix()}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), body);
  const child = spawn('nsenter', [`--net=${netns}`, 'busybox', 'httpd', '-f', '-p', String(port), '-h', dir], { stdio: 'ignore' });
  await once(child, 'spawn');
  // Ready when the port accepts connections.
  for (let i = 0; i < 100; i++) {
    const r = await inNetns(netns, ['sh', '-c', `busybox nc 127.0.0.1 ${port} </dev/null`]);
    if (r.code === 0) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  return Object.assign(child, { dir });
}

export async function stopHttpd(h: ChildProcess & { dir: string }): Promise<void> {
  await stopProcess(h);
  rmSync(h.dir, { recursive: true, force: true });
}

/** An HTTP GET with busybox nc (busybox wget crashes on this Debian build); the body, or '' on failure. */
export async function httpGet(netns: string | undefined, host: string, port = 80, timeoutSec = 3): Promise<string> {
  const script = `printf 'GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' | busybox nc -w ${timeoutSec} ${host} ${port}`;
  const r = netns ? await inNetns(netns, ['sh', '-c', script], (timeoutSec + 2) * 1000) : await run('sh', ['-c', script]);
  return bodyOf(r.stdout);
}

export function bodyOf(response: string): string {
  const i = response.indexOf('\r\n\r\n');
  return i < 0 ? '' : response.slice(i + 4).trim();
}

export interface OutsideHost {
  /** The namespace of the outside host. */
  netns: string;
  /** The host's address on the link to it (a local, non-loopback address of the host). */
  hostIp: string;
  /** The outside host's own address. */
  ip: string;
  close(): Promise<void>;
}

async function must(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
}

/**
 * A second "host" behind a veth pair, in a namespace of the test's: the host side gets a fresh test subnet's
 * first address, the outside side the second. Every step is checked, so no traffic is ever sent to an address
 * that does not exist on this machine.
 */
export async function outsideHost(env: Env, name: string): Promise<OutsideHost> {
  const s = testSubnet();
  const hostIf = `${env.tag}${name}`;
  const nsFile = path.join(env.execRoot, `outside-${name}`);
  writeFileSync(nsFile, '');
  const close = async () => {
    await run('ip', ['link', 'del', hostIf]);
    await run('umount', ['--lazy', nsFile]);
    rmSync(nsFile, { force: true });
  };
  try {
    await must('unshare', [`--net=${nsFile}`, 'true']);
    await must('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsFile]);
    await must('ip', ['addr', 'add', `${s.gateway}/24`, 'dev', hostIf]);
    await must('ip', ['link', 'set', hostIf, 'up']);
    await must('nsenter', [`--net=${nsFile}`, 'sh', '-ec',
      `ip link set lo up; ip addr add ${s.prefix}.2/24 dev eth0; ip link set eth0 up; ip route add default via ${s.gateway}`]);
  } catch (err) {
    await close();
    throw err;
  }
  return { netns: nsFile, hostIp: s.gateway, ip: `${s.prefix}.2`, close };
}

/** A TCP server in a namespace that answers every connection with the peer address it sees, then closes. */
export async function echoPeer(netns: string, port: number): Promise<ChildProcess> {
  const child = spawn('nsenter', [`--net=${netns}`, 'socat', `TCP-LISTEN:${port},fork,reuseaddr`, 'SYSTEM:echo $SOCAT_PEERADDR'], { stdio: 'ignore' });
  await once(child, 'spawn');
  for (let i = 0; i < 100; i++) {
    const r = await inNetns(netns, ['sh', '-c', `busybox nc 127.0.0.1 ${port} </dev/null`]);
    if (r.code === 0) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  return child;
}

/** Connects from a namespace (or the host) and returns the first line the server sent. */
export async function readLine(netns: string | undefined, host: string, port: number): Promise<string> {
  const args = ['busybox', 'nc', '-w', '2', host, String(port)];
  const r = netns ? await inNetns(netns, args, 5000) : await run('timeout', ['5', ...args]);
  return r.stdout.trim();
}
