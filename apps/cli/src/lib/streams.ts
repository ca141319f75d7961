// The client side of a hijacked attach/exec connection: the container's output to our stdout/stderr
// (demultiplexed unless it has a TTY), our stdin to the container with docker's detach sequence
// (Ctrl-P Ctrl-Q by default) caught on the way, raw mode for interactive terminals, and terminal resizes.
import { Demuxer, StdStream } from '@berth/docker-api';
import type { Duplex } from 'node:stream';
import { CliError } from '../framework/errors.ts';
import { isTTY, stdout } from '../context.ts';

export interface StreamOptions {
  tty: boolean;
  /** Forward our stdin to the container. */
  stdin: boolean;
  detachKeys?: string;
}

export interface StreamSession {
  /** Resolves when the container's output ended, or when the user detached. */
  done: Promise<{ detached: boolean }>;
  /** Stops forwarding and restores the terminal. */
  close(): void;
}

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** docker's term.ToBytes: "ctrl-p,ctrl-q" → [0x10, 0x11]. */
export function parseDetachKeys(keys: string): number[] {
  const out: number[] = [];
  for (const key of keys.split(',')) {
    const k = key.trim();
    if (k.length === 1) {
      out.push(k.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/i.exec(k);
    if (!m) throw new CliError(`Invalid detach keys (${keys}) provided`, 1);
    const c = m[1]!;
    if (/[a-z]/i.test(c)) out.push(c.toLowerCase().charCodeAt(0) - 96);
    else if (c === '@') out.push(0);
    else if (c === '[') out.push(27);
    else if (c === '\\') out.push(28);
    else if (c === ']') out.push(29);
    else if (c === '^') out.push(30);
    else if (c === '_') out.push(31);
    else throw new CliError(`Invalid detach keys (${keys}) provided`, 1);
  }
  return out;
}

let rawModeOn = false;
function setRaw(on: boolean): void {
  const stdin = process.stdin as NodeJS.ReadStream;
  if (!stdin.isTTY || rawModeOn === on) return;
  stdin.setRawMode(on);
  rawModeOn = on;
  // libuv's raw mode keeps output post-processing (OPOST/ONLCR) on, so the container's "\r\n" would reach
  // the screen as "\r\r\n"; docker's raw mode turns it off. Node has no termios call, so stty does it (on
  // our stdout's terminal); leaving raw mode restores the saved settings, OPOST included.
  if (on && isTTY(1)) {
    process.getBuiltinModule('node:child_process').spawnSync('stty', ['-opost'], { stdio: [1, 'ignore', 'ignore'] });
  }
}
process.on('exit', () => setRaw(false));

export function pumpStreams(socket: Duplex, opts: StreamOptions): StreamSession {
  const detachSeq = parseDetachKeys(opts.detachKeys || DEFAULT_DETACH_KEYS);
  let resolveDone!: (v: { detached: boolean }) => void;
  const done = new Promise<{ detached: boolean }>((r) => {
    resolveDone = r;
  });
  let finished = false;
  const finish = (detached: boolean) => {
    if (finished) return;
    finished = true;
    cleanupInput();
    resolveDone({ detached });
  };

  // output
  const demux = opts.tty ? undefined : new Demuxer();
  socket.on('data', (chunk: Buffer) => {
    if (!demux) {
      if (!stdout().write(chunk)) {
        socket.pause();
        stdout().once('drain', () => socket.resume());
      }
      return;
    }
    for (const f of demux.push(chunk)) {
      const target = f.stream === StdStream.stderr || f.stream === StdStream.systemerr ? process.stderr : stdout();
      if (!target.write(f.payload)) {
        socket.pause();
        target.once('drain', () => socket.resume());
      }
    }
  });
  socket.on('end', () => finish(false));
  socket.on('close', () => finish(false));
  socket.on('error', () => finish(false));
  socket.resume();

  // input
  let cleanupInput = () => {};
  if (opts.stdin) {
    const stdin = process.stdin;
    if (opts.tty) setRaw(true);
    let held: number[] = [];
    const onData = (chunk: Buffer) => {
      const out: number[] = [];
      for (const b of chunk) {
        if (b === detachSeq[held.length]) {
          held.push(b);
          if (held.length === detachSeq.length) {
            if (out.length) socket.write(Buffer.from(out));
            socket.destroy();
            finish(true);
            return;
          }
          continue;
        }
        if (held.length) {
          out.push(...held);
          held = [];
          if (b === detachSeq[0]) {
            held.push(b);
            continue;
          }
        }
        out.push(b);
      }
      if (out.length) socket.write(Buffer.from(out));
    };
    const onEnd = () => {
      if (held.length) socket.write(Buffer.from(held));
      held = [];
      if (!socket.destroyed) socket.end();
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
    cleanupInput = () => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
      if (opts.tty) setRaw(false);
    };
  } else {
    // docker's CLI half-closes its side at once when it sends nothing
    socket.end();
  }

  return {
    done,
    close: () => {
      finish(false);
      socket.destroy();
    },
  };
}

/** Calls `resize` with the terminal's size now and whenever it changes; returns a function that stops it. */
export function monitorTtySize(resize: (h: number, w: number) => Promise<void>): () => void {
  const out = stdout();
  if (!out.isTTY) return () => {};
  const send = () => {
    const [w, h] = out.getWindowSize();
    resize(h, w).catch(() => {});
  };
  send();
  out.on('resize', send);
  return () => out.off('resize', send);
}

/** Signals a non-TTY `run`/`attach` forwards to the container (docker's --sig-proxy). */
const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGTSTP'];

export function proxySignals(kill: (signal: string) => Promise<void>): () => void {
  const handlers = PROXIED.map((sig) => {
    const h = () => {
      kill(sig).catch(() => {});
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}
