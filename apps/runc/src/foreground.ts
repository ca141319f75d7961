// What `run` and `exec` do when they stay in the foreground: forward signals to the process, proxy a pty
// between this terminal and the container, and return the process's exit status.
import { resizePty, waitExit } from '@berth/runtime';
import { closeSync } from 'node:fs';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGCONT', 'SIGTSTP'];

export async function foreground(pid: number, ptyMaster?: number): Promise<number> {
  const exited = waitExit(pid);
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  let stopProxy = () => {};
  if (ptyMaster !== undefined) stopProxy = proxy(ptyMaster);
  const status = await exited;
  stopProxy();
  for (const s of FORWARDED) process.off(s, forward);
  return status.status;
}

function proxy(master: number): () => void {
  const tty = process.getBuiltinModule('node:tty');
  const stream = new tty.ReadStream(master, { writable: true } as object);
  const out = process.stdout;
  stream.on('data', (d: Buffer) => out.write(d));
  stream.on('error', () => {}); // EIO once the last slave fd closes
  const stdinIsTty = process.stdin.isTTY === true;
  if (stdinIsTty) process.stdin.setRawMode(true);
  const onInput = (d: Buffer) => stream.write(d);
  process.stdin.on('data', onInput);
  const resize = () => {
    if (process.stdout.isTTY) resizePty(master, process.stdout.columns, process.stdout.rows);
  };
  resize();
  process.on('SIGWINCH', resize);
  return () => {
    process.off('SIGWINCH', resize);
    process.stdin.off('data', onInput);
    process.stdin.pause();
    if (stdinIsTty) process.stdin.setRawMode(false);
    stream.destroy();
    try {
      closeSync(master);
    } catch {
      // the stream closed it
    }
  };
}
