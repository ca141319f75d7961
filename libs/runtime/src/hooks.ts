// OCI hooks run by the runtime itself: prestart/createRuntime (during create, while the init waits on the
// sync socket after its mounts and before pivot_root), poststart (after start) and poststop (on delete). Each
// gets the container state on stdin. createContainer/startContainer (run inside the container) are not
// supported yet: create rejects a spec that has them.
import type { Hook, RuntimeState } from '@berth/oci';
import { markForeign } from './exits.ts';

export async function runHook(hook: Hook, state: RuntimeState, kind: string): Promise<void> {
  const [argv0, ...rest] = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
  const { spawn } = process.getBuiltinModule('node:child_process'); // loaded only when a spec has hooks
  const child = spawn(hook.path, rest, {
    argv0,
    env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  if (child.pid) markForeign(child.pid, true);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  child.stdin!.on('error', () => {});
  child.stdin!.end(JSON.stringify(state));
  const timer = hook.timeout ? setTimeout(() => child.kill('SIGKILL'), hook.timeout * 1000) : undefined;
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve([c, s]));
    });
    if (code !== 0) {
      const why = signal ? `killed by ${signal}${hook.timeout ? ` (timeout ${hook.timeout}s)` : ''}` : `exit status ${code}`;
      throw new Error(`${kind} hook ${hook.path}: ${why}${stderr ? `: ${stderr.trim()}` : ''}`);
    }
  } finally {
    if (timer) clearTimeout(timer);
    if (child.pid) markForeign(child.pid, false);
  }
}

export async function runHooks(hooks: Hook[] | undefined, state: RuntimeState, kind: string): Promise<void> {
  for (const h of hooks ?? []) await runHook(h, state, kind);
}
