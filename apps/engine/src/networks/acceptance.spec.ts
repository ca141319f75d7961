// Issue 9's acceptance, with the real docker CLI against a berthd of this checkout (root, real kernel): names
// across a user network and isolation between networks, none/host/container modes, published ports (fixed, -P,
// from the host and from other containers), outbound NAT, kill -9 and restart, volumes and binds, and nothing
// left behind. berthd runs on private roots, socket, bridge, subnets, cgroup parent and chain prefix.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort, removeCgroupTree, run, SHARED_REGISTRY, stopProcess, testCgroupParent, testSubnet, uniqueSuffix, waitFor, type RunResult,
} from '@berth/testing';
import { defaultChainPrefix, directEntries } from '@berth/network';

const MAIN = path.resolve(import.meta.dirname, '../main.ts');

describe('networks and volumes through the docker CLI (issue 9 acceptance)', { concurrency: false }, () => {
  const id = uniqueSuffix(3);
  const base = path.join(tmpdir(), `berth-nacc-${id}`);
  const dataRoot = path.join(base, 'data');
  const execRoot = `/run/berth-nacc-${id}`;
  const socket = path.join(execRoot, 'berthd.sock');
  const bridge = `bn${id}`;
  const sub = testSubnet();
  const pool = `10.${130 + (parseInt(id.slice(0, 2), 16) % 60)}.0.0/16`;
  const cgroupParent = testCgroupParent();
  const prefix = defaultChainPrefix(execRoot);
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(base, 'cli') };
  let berthd: ChildProcess | undefined;
  // An outside host behind a veth: the listener for the outbound NAT test.
  const outside = { ns: path.join(execRoot, 'outside'), hostIf: `${bridge}o`, net: testSubnet() };

  const docker = (...args: string[]): Promise<RunResult> => run('docker', args, { env });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await docker(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  // In a container `nc` is busybox's; on the host it is called as `busybox nc`.
  const httpGet = (host: string, port: number, nc = 'nc') => `printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | ${nc} -w 3 ${host} ${port} | tail -1`;
  const hostGet = async (host: string, port: number) => (await run('sh', ['-c', httpGet(host, port, 'busybox nc')])).stdout.trim();

  async function startBerthd(): Promise<void> {
    const log = openSync(path.join(base, 'berthd.log'), 'a');
    berthd = spawn(process.execPath, [
      MAIN, `--config-file=${path.join(base, 'daemon.json')}`, `--host=unix://${socket}`, `--data-root=${dataRoot}`, `--exec-root=${execRoot}`, `--bridge=${bridge}`, `--bip=${sub.gateway}/24`,
      `--default-address-pool=base=${pool},size=24`, `--cgroup-parent=${cgroupParent}`, `--registry-mirror=http://${SHARED_REGISTRY}`,
      `--insecure-registry=${SHARED_REGISTRY}`, '--log-level=warn',
    ], { stdio: ['ignore', log, log], env: { ...process.env, BERTH_RESOLV_CONF: path.join(base, 'resolv.conf') } });
    await waitFor(async () => {
      if (berthd!.exitCode !== null) throw new Error(`berthd exited: ${readFileSync(path.join(base, 'berthd.log'), 'utf8').slice(-2000)}`);
      return (await docker('version', '--format', '{{.Server.Version}}')).code === 0;
    }, 'berthd', 60_000, 200);
  }

  before(async () => {
    mkdirSync(base, { recursive: true });
    // Forwarded names go nowhere (no test traffic ever leaves the machine).
    writeFileSync(path.join(base, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    // Its own (empty) daemon.json: the machine's /etc/berth/daemon.json (the quick start's) must not leak in.
    writeFileSync(path.join(base, 'daemon.json'), '{}\n');
    await startBerthd();
    await ok('pull', '-q', 'busybox');
  });

  after(async () => {
    if (berthd && berthd.exitCode === null) {
      const ids = (await docker('ps', '-aq')).stdout.split('\n').filter(Boolean);
      if (ids.length) await docker('rm', '-f', '-v', ...ids);
      for (const n of (await docker('network', 'ls', '-q', '--filter', 'type=custom')).stdout.split('\n').filter(Boolean)) await docker('network', 'rm', n);
      for (const v of (await docker('volume', 'ls', '-q')).stdout.split('\n').filter(Boolean)) await docker('volume', 'rm', v);
      await stopProcess(berthd, 20_000);
    }
    await run('ip', ['link', 'del', outside.hostIf]);
    if (existsSync(outside.ns)) await run('umount', ['--lazy', outside.ns]);
    removeCgroupTree(cgroupParent);
    rmSync(execRoot, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  });

  it('two containers on a user network reach each other by name; containers on another network cannot', async () => {
    await ok('network', 'create', '-o', `com.docker.network.bridge.name=${bridge}a`, 'front');
    await ok('network', 'create', '-o', `com.docker.network.bridge.name=${bridge}b`, 'back');
    await ok('run', '-d', '--name', 'web', '--network', 'front', '--network-alias', 'www', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc');
    const webHostname = await ok('inspect', '-f', '{{.Config.Hostname}}', 'web');
    const webIp = await ok('inspect', '-f', '{{.NetworkSettings.Networks.front.IPAddress}}', 'web');
    assert.ok(webIp.startsWith(pool.split('.').slice(0, 2).join('.')), `${webIp} comes from the daemon's address pool ${pool}`);
    for (const name of ['web', 'www', 'web.front']) {
      const r = await ok('run', '--rm', '--network', 'front', 'busybox', 'sh', '-c', httpGet(name, 80));
      assert.equal(r, webHostname, name);
    }
    // Between containers that have been up a moment, frames go veth to veth (direct delivery, docs/network.md):
    // once the client's entry is in, its request to web is counted by web's entry.
    const sentTo = async (mac: string) => (await directEntries(`${bridge}a`)).find((e) => e.mac === mac)?.bytes;
    await ok('run', '-d', '--name', 'client', '--network', 'front', 'busybox', 'sleep', '600');
    const clientMac = await ok('inspect', '-f', '{{.NetworkSettings.Networks.front.MacAddress}}', 'client');
    await waitFor(async () => (await sentTo(clientMac)) !== undefined, `direct delivery entry for ${clientMac}`, 10_000, 50);
    const webMac = await ok('inspect', '-f', '{{.NetworkSettings.Networks.front.MacAddress}}', 'web');
    const before = (await sentTo(webMac)) ?? 0;
    assert.equal(await ok('exec', 'client', 'sh', '-c', httpGet('web', 80)), webHostname);
    assert.ok(((await sentTo(webMac)) ?? 0) > before, `direct delivery to ${webMac}`);
    await ok('rm', '-f', 'client');
    const other = await docker('run', '--rm', '--network', 'back', 'busybox', 'sh', '-c', `${httpGet(webIp, 80)}; nslookup web >/dev/null 2>&1 && echo resolved`);
    assert.equal(other.stdout.trim(), '', 'no route, no name from another network');
    assert.match(await ok('run', '--rm', '--network', 'front', 'busybox', 'cat', '/etc/resolv.conf'), /^nameserver 127\.0\.0\.11$/m);
    // IPv6 off on every interface, as dockerd has it on networks without IPv6 (`ip -6 addr` prints nothing)
    assert.equal(await ok('run', '--rm', '--network', 'front', 'busybox', 'sh', '-c',
      'cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6 /proc/sys/net/ipv6/conf/lo/disable_ipv6; ip -6 addr'), '1\n1');
  });

  it('--network none has only lo, host sees the host interfaces, container: shares the stack', async () => {
    const none = await ok('run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link');
    assert.deepEqual(none.split('\n').map((l) => l.split(':')[1]!.trim()), ['lo']);
    const hostLinks = await ok('run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link');
    assert.match(hostLinks, new RegExp(`: ${bridge}:`), 'the host network shows the daemon bridge');
    const shared = await ok('run', '--rm', '--network', 'container:web', 'busybox', 'sh', '-c', httpGet('127.0.0.1', 80));
    assert.equal(shared, await ok('inspect', '-f', '{{.Config.Hostname}}', 'web'));
  });

  it('publishes ports: reachable from the host on 127.0.0.1, from another container through the host, -P shown by docker port', async () => {
    const port = await freePort();
    await ok('run', '-d', '--name', 'pub', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc');
    const host = await ok('inspect', '-f', '{{.Config.Hostname}}', 'pub');
    assert.equal(await ok('port', 'pub', '80'), `0.0.0.0:${port}`);
    // The server needs a moment after `run -d` returns.
    await waitFor(async () => (await hostGet('127.0.0.1', port)) === host, `httpd published on ${port}`, 10_000, 100);
    assert.equal(await ok('run', '--rm', 'busybox', 'sh', '-c', httpGet(sub.gateway, port)), host, 'default bridge → gateway:port');
    assert.equal(await ok('run', '--rm', '--network', 'back', 'busybox', 'sh', '-c', httpGet(sub.gateway, port)), host, 'user network → host:port');
    await ok('run', '-d', '--name', 'pubp', '-P', '--expose', '8080', 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/etc');
    const mapped = await ok('port', 'pubp', '8080');
    const m = /^0\.0\.0\.0:(\d+)$/.exec(mapped);
    assert.ok(m, mapped);
    const pubpHost = await ok('inspect', '-f', '{{.Config.Hostname}}', 'pubp');
    await waitFor(async () => (await hostGet('127.0.0.1', Number(m[1]))) === pubpHost, '-P port', 10_000, 100);
    const taken = await docker('run', '-d', '--name', 'clash', '-p', `${port}:80`, 'busybox', 'true');
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, /port is already allocated/);
  });

  it('outbound NAT: a container reaches a host beyond the bridge, which sees the host address', async () => {
    writeFileSync(outside.ns, '');
    for (const [cmd, args] of [
      ['unshare', [`--net=${outside.ns}`, 'true']],
      ['ip', ['link', 'add', outside.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.ns]],
      ['ip', ['addr', 'add', `${outside.net.gateway}/24`, 'dev', outside.hostIf]],
      ['ip', ['link', 'set', outside.hostIf, 'up']],
      ['nsenter', [`--net=${outside.ns}`, 'sh', '-ec', `ip link set lo up; ip addr add ${outside.net.prefix}.2/24 dev eth0; ip link set eth0 up`]],
    ] as const) {
      const r = await run(cmd, [...args]);
      assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    }
    const listener = spawn('nsenter', [`--net=${outside.ns}`, 'socat', 'TCP-LISTEN:9000,fork,reuseaddr', 'SYSTEM:echo $SOCAT_PEERADDR'], { stdio: 'ignore' });
    await once(listener, 'spawn');
    try {
      await waitFor(async () => (await run('nsenter', [`--net=${outside.ns}`, 'sh', '-c', 'busybox nc 127.0.0.1 9000 </dev/null'])).code === 0, 'listener');
      const seen = await ok('run', '--rm', 'busybox', 'nc', '-w', '3', `${outside.net.prefix}.2`, '9000');
      assert.equal(seen, outside.net.gateway);
    } finally {
      await stopProcess(listener);
    }
  });

  it('berthd killed -9 and restarted reconciles its rules; the containers kept running', async () => {
    const port = Number((await ok('port', 'pub', '80')).split(':')[1]);
    berthd!.kill('SIGKILL');
    await once(berthd!, 'exit');
    // Someone flushes berth's NAT chain while the daemon is away.
    await run('iptables', ['-w', '-t', 'nat', '-F', `${prefix}-DNAT`]);
    await startBerthd();
    const running = (await ok('ps', '--format', '{{.Names}}')).split('\n').sort();
    assert.deepEqual(running, ['pub', 'pubp', 'web']);
    assert.equal(await hostGet('127.0.0.1', port), await ok('inspect', '-f', '{{.Config.Hostname}}', 'pub'));
    assert.equal(await ok('run', '--rm', '--network', 'front', 'busybox', 'sh', '-c', httpGet('www', 80)), await ok('inspect', '-f', '{{.Config.Hostname}}', 'web'));
    for (const [table, chain] of [['filter', 'FORWARD'], ['filter', 'INPUT'], ['nat', 'PREROUTING'], ['nat', 'OUTPUT'], ['nat', 'POSTROUTING']]) {
      const jumps = (await run('iptables', ['-w', '-t', table!, '-S', chain!])).stdout.split('\n').filter((l) => l.includes(`-j ${prefix}-`));
      assert.equal(jumps.length, 1, `${table} ${chain}`);
    }
  });

  it('volumes: written by one container, read by the next; :ro binds refuse writes; named volumes survive rm and restarts', async () => {
    await ok('run', '--name', 'writer', '-v', 'keep:/data', '-v', '/scratch', 'busybox', 'sh', '-c', 'echo kept > /data/f; echo gone > /scratch/f');
    const anon = (await ok('inspect', '-f', '{{range .Mounts}}{{if eq .Destination "/scratch"}}{{.Name}}{{end}}{{end}}', 'writer'));
    assert.match(anon, /^[0-9a-f]{64}$/);
    assert.equal(await ok('run', '--rm', '-v', 'keep:/data', 'busybox', 'cat', '/data/f'), 'kept');
    const busy = await docker('volume', 'rm', 'keep');
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /volume is in use/);
    await ok('rm', '-v', 'writer');
    const vols = (await ok('volume', 'ls', '-q')).split('\n');
    assert.ok(vols.includes('keep') && !vols.includes(anon), vols.join(','));
    const dir = path.join(base, 'bind');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'x'), 'from host');
    const ro = await docker('run', '--rm', '-v', `${dir}:/b:ro`, 'busybox', 'sh', '-c', 'cat /b/x; echo no > /b/y');
    assert.notEqual(ro.code, 0);
    assert.equal(ro.stdout.trim(), 'from host');
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal(existsSync(path.join(dir, 'y')), false);
    await stopProcess(berthd!, 20_000);
    await startBerthd();
    assert.equal(await ok('run', '--rm', '--mount', 'type=volume,source=keep,target=/data,readonly', 'busybox', 'cat', '/data/f'), 'kept');
    assert.match(await ok('run', '--rm', '--mount', 'type=tmpfs,destination=/t,tmpfs-size=1048576', 'busybox', 'df', '/t'), /tmpfs\s+1024 /);
  });

  it('leaves no bridge, veth, namespace or iptables rule behind once everything is removed and berthd stops', async () => {
    await ok('rm', '-f', 'web', 'pub', 'pubp');
    await ok('network', 'rm', 'front', 'back');
    await ok('volume', 'rm', 'keep');
    await stopProcess(berthd!, 20_000);
    const links = JSON.parse((await run('ip', ['-j', 'link', 'show'])).stdout) as { ifname: string; master?: string }[];
    const ours = (l: { ifname: string; master?: string }) =>
      (l.ifname.startsWith(bridge) && l.ifname !== outside.hostIf) || !!l.master?.startsWith(bridge);
    assert.deepEqual(links.filter(ours).map((l) => l.ifname), []);
    const rules = (await run('iptables-save', [])).stdout.split('\n').filter((l) => l.includes(prefix));
    assert.deepEqual(rules, []);
    const ns = path.join(execRoot, 'netns');
    assert.deepEqual(existsSync(ns) ? (await run('ls', [ns])).stdout.trim() : '', '');
  });
});
