/**
 * The `local` volume driver's options (`docker volume create --opt type=… --opt device=… --opt o=…`): a plain
 * directory without them, else a filesystem mounted on the volume's `_data` while containers use it — tmpfs,
 * a bind of a host directory (`o=bind`), or any type mount(8) knows.
 */
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { InternalError, InvalidArgumentError } from '@berth/errdefs';

const KEYS = ['type', 'device', 'o', 'size'];

/** Checks driver options as Docker's local driver does; returns them normalized. */
export function validateLocalOptions(name: string, opts: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts ?? {})) {
    if (!KEYS.includes(k)) throw new InvalidArgumentError(`create ${name}: invalid option key: ${JSON.stringify(k)}`);
    if (typeof v !== 'string') throw new InvalidArgumentError(`create ${name}: invalid value for option ${JSON.stringify(k)}: expected a string`);
    out[k] = v;
  }
  if (out.size !== undefined) throw new InvalidArgumentError(`create ${name}: quota size requested but no quota support`);
  const hasType = out.type !== undefined && out.type !== '';
  const hasDevice = out.device !== undefined && out.device !== '';
  if ((out.o || hasDevice) && !hasType) throw new InvalidArgumentError(`create ${name}: missing "type" option`);
  if (hasType && !hasDevice && out.type !== 'tmpfs') throw new InvalidArgumentError(`create ${name}: missing "device" option`);
  if (isBind(out) && hasDevice && !existsSync(out.device!)) {
    throw new InvalidArgumentError(`create ${name}: failed to mount local volume: mount ${out.device}: no such file or directory`);
  }
  return out;
}

/** Whether the volume mounts something (otherwise it is a plain directory). */
export function needsMount(opts: Record<string, string>): boolean {
  return !!opts.type;
}

function isBind(opts: Record<string, string>): boolean {
  return (opts.o ?? '').split(',').some((o) => o === 'bind' || o === 'rbind');
}

export async function mountLocal(opts: Record<string, string>, target: string): Promise<void> {
  const args = ['-t', opts.type!, ...(opts.o ? ['-o', opts.o] : []), opts.device || opts.type!, target];
  if (isBind(opts)) args.splice(0, 2);
  await run('mount', args, `mount ${opts.device || opts.type} on ${target}`);
}

export async function unmountLocal(target: string): Promise<void> {
  if (isMountPoint(target)) await run('umount', ['--lazy', target], `unmount ${target}`);
}

export function isMountPoint(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
}

function run(cmd: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new InternalError(`${what}: ${err.trim() || `${cmd} exited with ${code}`}`))));
  });
}
