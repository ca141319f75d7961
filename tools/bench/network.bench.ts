// Network benchmark: berthd (this checkout, its bridge networking from libs/network) against a real dockerd with
// its bridge networking, side by side on this machine, same busybox image, each on its own bridge and subnets.
// The measuring programs (iperf3, net-probe.ts) come from the host's filesystem and run inside the containers'
// network namespaces (nsenter), the same for both daemons:
//   - container → container TCP throughput and connect latency on a user-defined bridge network
//   - host → published port throughput: on 127.0.0.1, and from another host (a namespace behind a veth)
//   - attaching a running container to a network (POST /networks/{id}/connect)
//   - a container's network stack: `start` on a user network minus `start` with --network none
// Everything it makes (bridges, namespaces, veths, both daemons' iptables rules) is removed at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultChainPrefix, directEntries } from '@berth/network';
import {
  freePort, removeCgroupTree, run, SHARED_REGISTRY, startDockerd, stopProcess, testCgroupParent, testSubnet, uniqueSuffix, waitFor,
} from '@berth/testing';
import { median } from './harness.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const BYTES = process.env.BENCH_BYTES ?? '1G';
const PROBE = path.join(import.meta.dirname, 'net-probe.ts');
const BERTHD = path.resolve(import.meta.dirname, '../../apps/engine/src/main.ts');
const id = uniqueSuffix(3);
const base = path.join(tmpdir(), `berth-netbench-${id}`);
const BERTH_EXEC_ROOT = `/run/berth-nbench-${id}`;
const children: ChildProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

interface Daemon {
  name: string;
  socket: string;
  env: NodeJS.ProcessEnv;
}

async function must(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

/** A long-running process inside a namespace, stopped at the end. */
async function daemonIn(netns: string, cmd: string[], readyPort: number): Promise<void> {
  const child = spawn('nsenter', [`--net=${netns}`, ...cmd], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  await waitFor(async () => (await run('nsenter', [`--net=${netns}`, 'sh', '-c', `busybox nc 127.0.0.1 ${readyPort} </dev/null`])).code === 0,
    `${cmd.join(' ')} on ${readyPort}`, 10_000, 25);
}

/** iperf3 client in `netns` (or on the host): received Gbit/s for BYTES. */
async function iperf(netns: string | undefined, host: string, port: number): Promise<number> {
  const args = ['-c', host, '-p', String(port), '-n', BYTES, '-J'];
  const r = netns ? await run('nsenter', [`--net=${netns}`, 'iperf3', ...args]) : await run('iperf3', args);
  if (r.code !== 0) throw new Error(`iperf3 to ${host}:${port}: ${r.stdout.slice(0, 300)} ${r.stderr}`);
  return (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
}

async function connectLatency(netns: string, host: string, port: number): Promise<number> {
  const out = await must('nsenter', [`--net=${netns}`, process.execPath, PROBE, 'connect', host, String(port), '300']);
  return (JSON.parse(out) as { medianUs: number }).medianUs;
}

function api(d: Daemon, method: string, p: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: d.socket, method, path: p, headers: data ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Alternating measurements (berth, docker, berth, …), so drift in the machine hits both alike. */
async function alternate(
  title: string, unit: string, higherBetter: boolean, fn: (d: Daemon) => Promise<number>, ds: Daemon[], target?: number,
  halfway?: () => Promise<void>,
): Promise<void> {
  const samples = ds.map(() => [] as number[]);
  for (const d of ds) await fn(d);
  for (let i = 0; i < RUNS; i++) {
    if (halfway && i === Math.floor(RUNS / 2)) await halfway();
    for (const [k, d] of ds.entries()) samples[k]!.push(await fn(d));
  }
  const medians = samples.map(median);
  const ratio = medians[0]! / medians[1]!;
  console.log(`\n## ${title} (median of ${RUNS} alternating runs)`);
  console.log(`  ${'berth'.padEnd(8)} ${medians[0]!.toFixed(2).padStart(10)} ${unit}`);
  console.log(`  ${'docker'.padEnd(8)} ${medians[1]!.toFixed(2).padStart(10)} ${unit}   berth/docker = ${ratio.toFixed(2)}×`);
  if (halfway) {
    const half = Math.floor(RUNS / 2);
    const part = (from: number, to: number) => samples.map((xs) => median(xs.slice(from, to)).toFixed(2)).join(' vs ');
    console.log(`  berth vs docker with docker's FORWARD rules first: ${part(0, half)}; with berth's first: ${part(half, RUNS)}`);
  }
  if (target !== undefined) {
    console.log(`  target berth/docker ${higherBetter ? '≥' : '≤'} ${target}: ${(higherBetter ? ratio >= target : ratio <= target) ? 'met' : 'NOT met'}`);
  }
}

/**
 * Bridged frames go through iptables' FORWARD chain (br_netfilter), where each daemon inserts its jump at the top
 * when it starts: whichever started last is evaluated first and the other's traffic walks past its rules. So the
 * bridged measurements start with berth's jump at the bottom and move it to the top half-way (what berthd itself
 * does when it restarts): each side spends half of the runs behind the other's rules.
 */
async function placeBerthJump(where: 'first' | 'last'): Promise<void> {
  const jump = ['-j', `${defaultChainPrefix(BERTH_EXEC_ROOT)}-FORWARD`];
  await must('iptables', ['-w', '-D', 'FORWARD', ...jump]);
  await must('iptables', ['-w', ...(where === 'first' ? ['-I', 'FORWARD', '1'] : ['-A', 'FORWARD']), ...jump]);
}

interface Setup {
  d: Daemon;
  s1ns: string;
  s2ns: string;
  s1ip: string;
  pub: number;
  net2: string;
}

/** The same containers on either daemon: two on a user network, one publishing iperf3's port on the default bridge. */
async function setUp(d: Daemon, prefix: string, userSubnet: string, user2Subnet: string): Promise<Setup> {
  const docker = (...args: string[]) => must('docker', args, { env: d.env });
  await docker('pull', '-q', 'busybox');
  await docker('network', 'create', '--subnet', userSubnet, '-o', `com.docker.network.bridge.name=${prefix}u`, 'bench');
  const net2 = await docker('network', 'create', '--subnet', user2Subnet, '-o', `com.docker.network.bridge.name=${prefix}v`, 'bench2');
  cleanups.push(() => run('docker', ['network', 'rm', 'bench', 'bench2'], { env: d.env }));
  cleanups.push(() => run('docker', ['rm', '-f', 's1', 's2', 'web'], { env: d.env }));
  const pub = await freePort();
  await docker('run', '-d', '--name', 's1', '--network', 'bench', 'busybox', 'sleep', '3600');
  await docker('run', '-d', '--name', 's2', '--network', 'bench', 'busybox', 'sleep', '3600');
  await docker('run', '-d', '--name', 'web', '-p', `${pub}:5201`, 'busybox', 'sleep', '3600');
  const ns = async (name: string) => `/proc/${await docker('inspect', '-f', '{{.State.Pid}}', name)}/ns/net`;
  const s = { d, s1ns: await ns('s1'), s2ns: await ns('s2'), s1ip: await docker('inspect', '-f', '{{.NetworkSettings.Networks.bench.IPAddress}}', 's1'), pub, net2 };
  await daemonIn(s.s1ns, ['iperf3', '-s', '-p', '5201'], 5201);
  await daemonIn(s.s1ns, [process.execPath, PROBE, 'server', '7000'], 7000);
  await daemonIn(await ns('web'), ['iperf3', '-s', '-p', '5201'], 5201);
  return s;
}

async function startBerthd(): Promise<Daemon> {
  const execRoot = BERTH_EXEC_ROOT;
  const socket = path.join(execRoot, 'berthd.sock');
  const sub = testSubnet();
  const cgroupParent = testCgroupParent();
  const dir = path.join(base, 'berthd');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  writeFileSync(path.join(dir, 'daemon.json'), '{}\n'); // not the machine's /etc/berth/daemon.json
  const log = openSync(path.join(dir, 'berthd.log'), 'a');
  const child = spawn(process.execPath, [
    BERTHD, `--config-file=${path.join(dir, 'daemon.json')}`, `--host=unix://${socket}`, `--data-root=${path.join(dir, 'data')}`, `--exec-root=${execRoot}`, `--bridge=bb${id}`,
    `--bip=${sub.gateway}/24`, `--cgroup-parent=${cgroupParent}`, `--registry-mirror=http://${SHARED_REGISTRY}`,
    `--insecure-registry=${SHARED_REGISTRY}`, '--log-level=warn',
  ], { stdio: ['ignore', log, log], env: { ...process.env, BERTH_RESOLV_CONF: path.join(dir, 'resolv.conf') } });
  const d: Daemon = { name: 'berth', socket, env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'cli') } };
  cleanups.push(async () => {
    await stopProcess(child, 20_000);
    removeCgroupTree(cgroupParent);
    rmSync(execRoot, { recursive: true, force: true });
    const left = (await run('iptables-save', [])).stdout.split('\n').filter((l) => l.includes(defaultChainPrefix(execRoot)));
    if (left.length) console.error(`berthd left ${left.length} iptables lines`);
  });
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`berthd exited: ${readFileSync(path.join(dir, 'berthd.log'), 'utf8').slice(-2000)}`);
    return (await run('docker', ['version'], { env: d.env })).code === 0;
  }, 'berthd', 60_000, 200);
  return d;
}

async function startDocker(): Promise<Daemon> {
  // dockerd needs a `--bridge` that exists; it takes the address it finds there.
  const dbr = `db${id}`;
  const sub = testSubnet();
  await must('ip', ['link', 'add', dbr, 'type', 'bridge']);
  cleanups.push(() => run('ip', ['link', 'del', dbr]));
  await must('ip', ['addr', 'add', `${sub.gateway}/24`, 'dev', dbr]);
  await must('ip', ['link', 'set', dbr, 'up']);
  const forwardPolicy = (await must('iptables', ['-w', '-S', 'FORWARD'])).split('\n')[0]!;
  cleanups.push(() => cleanDockerRules(forwardPolicy, dbr));
  const dockerd = await startDockerd(path.join(base, 'docker'), {
    extraArgs: [`--bridge=${dbr}`, '--iptables=true', '--ip-masq=true', '--userland-proxy=true'],
  });
  cleanups.push(() => dockerd.stop());
  return { name: 'docker', socket: dockerd.socket, env: dockerd.env };
}

async function main(): Promise<void> {
  mkdirSync(base, { recursive: true });
  const [bUser, bUser2, dUser, dUser2, out] = [0, 1, 2, 3, 4].map(() => testSubnet());
  const berth = await setUp(await startBerthd(), `bb${id}`, bUser!.subnet, bUser2!.subnet);
  const docker = await setUp(await startDocker(), `db${id}`, dUser!.subnet, dUser2!.subnet);
  const both = [berth.d, docker.d];
  const of = (d: Daemon) => (d === berth.d ? berth : docker);

  // An outside host: published ports reached from another machine go through DNAT.
  const outIf = `bo${id}`;
  const outNs = path.join(base, 'outside');
  writeFileSync(outNs, '');
  cleanups.push(async () => {
    await run('ip', ['link', 'del', outIf]);
    await run('umount', ['--lazy', outNs]);
  });
  await must('unshare', [`--net=${outNs}`, 'true']);
  await must('ip', ['link', 'add', outIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outNs]);
  await must('ip', ['addr', 'add', `${out!.gateway}/24`, 'dev', outIf]);
  await must('ip', ['link', 'set', outIf, 'up']);
  await must('nsenter', [`--net=${outNs}`, 'sh', '-ec', `ip link set lo up; ip addr add ${out!.prefix}.2/24 dev eth0; ip link set eth0 up`]);

  await placeBerthJump('last');
  await alternate(`container → container TCP throughput, user bridge (iperf3, ${BYTES}B)`, 'Gbit/s', true,
    (d) => iperf(of(d).s2ns, of(d).s1ip, 5201), both, 1.0, () => placeBerthJump('first'));
  // How much of berth's side went veth to veth (direct delivery, docs/network.md) rather than through the bridge.
  const direct = (await directEntries(`bb${id}u`)).reduce((sum, e) => sum + e.bytes, 0);
  console.log(`  berth: ${(direct / 1e9).toFixed(1)} GB went by direct delivery`);
  await placeBerthJump('last');
  await alternate('container → container TCP connect latency, user bridge (median of 300 connects)', 'µs', false,
    (d) => connectLatency(of(d).s2ns, of(d).s1ip, 7000), both, undefined, () => placeBerthJump('first'));
  await alternate(`host → published port on 127.0.0.1 (iperf3, ${BYTES}B)`, 'Gbit/s', true,
    (d) => iperf(undefined, '127.0.0.1', of(d).pub), both, 1.0);
  await alternate(`other host → published port (DNAT; iperf3, ${BYTES}B)`, 'Gbit/s', true,
    (d) => iperf(outNs, out!.gateway, of(d).pub), both, 1.0);
  await alternate('attach a running container to a network (POST /networks/{id}/connect)', 'ms', false, async (d) => {
    const t0 = performance.now();
    const r = await api(d, 'POST', `/networks/${of(d).net2}/connect`, { Container: 's2' });
    const dt = performance.now() - t0;
    if (r.status !== 200) throw new Error(`${d.name} network connect: ${r.status} ${r.body}`);
    await api(d, 'POST', `/networks/${of(d).net2}/disconnect`, { Container: 's2' });
    return dt;
  }, both, 0.5);

  // A container's network stack: the same container started on a user network and with --network none.
  const startMs = async (d: Daemon, network: string): Promise<number> => {
    const created = await api(d, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: network } });
    const cid = (JSON.parse(created.body) as { Id: string }).Id;
    const t0 = performance.now();
    const r = await api(d, 'POST', `/containers/${cid}/start`);
    const dt = performance.now() - t0;
    await api(d, 'DELETE', `/containers/${cid}?force=1`);
    if (r.status !== 204) throw new Error(`${d.name} start: ${r.status} ${r.body}`);
    return dt;
  };
  const starts = both.map(() => ({ none: [] as number[], net: [] as number[] }));
  for (let i = 0; i <= RUNS; i++) {
    for (const [k, d] of both.entries()) {
      const n = await startMs(d, 'none');
      const u = await startMs(d, 'bench');
      if (i > 0) {
        starts[k]!.none.push(n);
        starts[k]!.net.push(u);
      }
    }
  }
  const stack = starts.map((s) => median(s.net) - median(s.none));
  console.log(`\n## a container's network stack: start on a user network − start with --network none (median of ${RUNS})`);
  for (const [k, d] of both.entries()) {
    console.log(`  ${d.name.padEnd(8)} ${stack[k]!.toFixed(1).padStart(10)} ms   (${median(starts[k]!.net).toFixed(1)} − ${median(starts[k]!.none).toFixed(1)} ms)`);
  }
  console.log(`  berth/docker = ${(stack[0]! / stack[1]!).toFixed(2)}×   target ≤ 0.5: ${stack[0]! / stack[1]! <= 0.5 ? 'met' : 'NOT met'}`);
}

/** dockerd leaves its chains and jumps behind when it stops: remove them, and restore the FORWARD policy. */
async function cleanDockerRules(forwardPolicy: string, bridgePrefix: string): Promise<void> {
  for (const table of ['filter', 'nat']) {
    const lines = (await run('iptables-save', ['-t', table])).stdout.split('\n');
    const docker = (x: string) => x.includes('DOCKER') || x.includes(bridgePrefix);
    for (const l of lines.filter((x) => x.startsWith('-A ') && docker(x) && !x.startsWith('-A DOCKER'))) {
      await run('iptables', ['-w', '-t', table, ...l.replace(/^-A /, '-D ').split(' ')]);
    }
    const chains = lines.filter((x) => x.startsWith(':DOCKER')).map((x) => x.slice(1).split(' ')[0]!);
    for (const c of chains) await run('iptables', ['-w', '-t', table, '-F', c]);
    for (const c of chains) await run('iptables', ['-w', '-t', table, '-X', c]);
  }
  const policy = /^-P FORWARD (\w+)/.exec(forwardPolicy)?.[1];
  if (policy) await run('iptables', ['-w', '-P', 'FORWARD', policy]);
}

try {
  await main();
} finally {
  for (const c of children) await stopProcess(c, 2000).catch(() => {});
  for (const f of cleanups.reverse()) await f().catch((err: unknown) => console.error('cleanup:', err));
  rmSync(base, { recursive: true, force: true });
}
