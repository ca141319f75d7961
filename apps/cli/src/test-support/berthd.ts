// A berthd of this checkout on private roots, socket, bridge, subnet and cgroup parent (the engine's own
// acceptance tests start it the same way), with the shared registry as docker.io mirror.
import { SHARED_REGISTRY, removeCgroupTree, run, stopProcess, testCgroupParent, testSubnet, uniqueSuffix, waitFor } from '@berth/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const BERTHD_MAIN = path.resolve(import.meta.dirname, '../../../engine/src/main.ts');

export interface PrivateBerthd {
  host: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startBerthd(dir: string): Promise<PrivateBerthd> {
  const id = uniqueSuffix(3);
  const execRoot = `/run/berth-cli-${id}`;
  const socket = path.join(execRoot, 'berthd.sock');
  const sub = testSubnet();
  const cgroupParent = testCgroupParent();
  mkdirSync(dir, { recursive: true });
  // no machine-wide daemon.json, and forwarded DNS names go nowhere
  writeFileSync(path.join(dir, 'daemon.json'), '{}\n');
  writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  const logFile = path.join(dir, 'berthd.log');
  const child = spawn(process.execPath, [
    BERTHD_MAIN, `--config-file=${path.join(dir, 'daemon.json')}`, `--host=unix://${socket}`, `--data-root=${path.join(dir, 'data')}`,
    `--exec-root=${execRoot}`, `--bridge=bc${id}`, `--bip=${sub.gateway}/24`, `--cgroup-parent=${cgroupParent}`,
    `--default-address-pool=base=10.${140 + (parseInt(id.slice(0, 2), 16) % 50)}.0.0/16,size=24`,
    `--registry-mirror=http://${SHARED_REGISTRY}`, `--insecure-registry=${SHARED_REGISTRY}`, '--log-level=warn',
  ], { stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')], env: { ...process.env, BERTH_RESOLV_CONF: path.join(dir, 'resolv.conf') } });
  const host = `unix://${socket}`;
  const stop = async () => {
    await stopProcess(child, 20_000);
    await run('ip', ['link', 'del', `bc${id}`]);
    removeCgroupTree(cgroupParent);
    rmSync(execRoot, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`berthd exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      return (await run('docker', ['-H', host, 'version', '--format', '{{.Server.Version}}'])).code === 0;
    }, 'berthd', 90_000, 250);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, process: child, stop };
}
